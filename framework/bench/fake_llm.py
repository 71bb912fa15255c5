"""A real OpenAI-compatible HTTP server on 127.0.0.1 that misbehaves on request.

Tests of the LLM layer point litellm at it (model `openai/fake`, `api_base=server.url`, any
api_key) and program what each request gets back: a valid reply, or one of the faults a real
provider produces (a reset connection, a cut body, 5xx, 429 with Retry-After, an empty or
message-less reply, a body that is not JSON, tool-call arguments that do not validate, a first
byte that never comes in time, 401, 404). Nothing is mocked: litellm, the OpenAI SDK and httpx
do their real work over a real socket, so the faults surface as they would in production.

    with FakeLLMServer() as server:
        server.enqueue(Reply.error(503), Reply.text_reply("hi"))  # 503 first, then "hi"
        ...                                                        # then `server.default`
        assert len(server.requests) == 2

Replies are taken from the queue in order; once it is empty `server.responder(request)` answers
if set, else `server.default` (a text reply unless changed). `stream: true` requests get SSE
chunks, one per word, after the reply's `ttfb_s` (time to first byte) and `token_interval_s`
apart, so the same server serves latency benchmarks. Every request is recorded as it arrives.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply"]


@dataclass
class RecordedRequest:
    """One request as the server received it (before any fault was applied)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or the raw text when it is not JSON
    received_at: float  # time.monotonic()

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


@dataclass
class Reply:
    """What the server does with one request. Build one with the class methods below."""

    kind: str  # text | tool_call | raw | reset | truncated | empty_choices | null_message
    status: int = 200
    text: str = ""
    arguments: str | None = None  # a tool call's arguments, verbatim (may be invalid JSON)
    tool_name: str | None = None  # None: the function the request asks for (tool_choice, else first)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # a verbatim body ("raw": errors, malformed JSON)
    ttfb_s: float = 0.0  # wait this long before sending a single byte
    token_interval_s: float = 0.0  # streaming: the pause between chunks
    usage: tuple[int, int] = (10, 5)  # prompt, completion tokens

    @classmethod
    def text_reply(cls, text: str = "Hello!", *, ttfb_s: float = 0.0, token_interval_s: float = 0.0) -> Reply:
        """A chat completion with text (SSE chunks, one per word, when the request streams)."""
        return cls("text", text=text, ttfb_s=ttfb_s, token_interval_s=token_interval_s)

    @classmethod
    def tool_call(cls, arguments: dict[str, Any] | str, *, name: str | None = None) -> Reply:
        """One function call, what instructor's TOOLS mode reads. A str goes out verbatim (it may
        be invalid JSON); a dict is serialised."""
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls("tool_call", arguments=args, tool_name=name)

    @classmethod
    def error(
        cls, status: int, message: str = "", *, headers: dict[str, str] | None = None, code: str | None = None
    ) -> Reply:
        """An OpenAI-style error body with this status (500, 502, 503, 401, 404, ...)."""
        error = {"message": message or f"fake error {status}", "type": "fake", "param": None, "code": code}
        return cls("raw", status=status, headers=headers or {}, body=json.dumps({"error": error}).encode())

    @classmethod
    def rate_limited(cls, retry_after_s: float) -> Reply:
        """429 with a Retry-After header, in seconds."""
        headers = {"Retry-After": f"{retry_after_s:g}"}
        return cls.error(429, "Rate limit reached, slow down", headers=headers, code="rate_limit_exceeded")

    @classmethod
    def unauthorized(cls) -> Reply:
        return cls.error(401, "Incorrect API key provided: sk-fake.", code="invalid_api_key")

    @classmethod
    def model_not_found(cls, model: str = "fake") -> Reply:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return cls.error(404, message, code="model_not_found")

    @classmethod
    def reset(cls) -> Reply:
        """Headers and the start of a body, then the socket is closed with a TCP reset."""
        return cls("reset")

    @classmethod
    def truncated(cls) -> Reply:
        """A Content-Length larger than the body sent, then the connection closes."""
        return cls("truncated")

    @classmethod
    def empty_choices(cls) -> Reply:
        """A well-formed completion whose `choices` is []."""
        return cls("empty_choices")

    @classmethod
    def null_message(cls) -> Reply:
        """A completion whose only choice has `message: null`."""
        return cls("null_message")

    @classmethod
    def malformed_json(cls) -> Reply:
        """200, a JSON content type, and a body that is not JSON."""
        return cls("raw", body=b'{"id": "chatcmpl-bad", "choices": [{"index": 0, "mess')

    @classmethod
    def slow(cls, delay_s: float, then: Reply | None = None) -> Reply:
        """`then` (a text reply by default), after `delay_s` without a single byte."""
        return dataclasses.replace(then or cls.text_reply(), ttfb_s=delay_s)


class FakeLLMServer:
    """The server: start it with `start()` or `with`; `url` is the api_base to give litellm."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Reply = Reply.text_reply()
        self.responder: Callable[[RecordedRequest], Reply] | None = None
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _QuietServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a handler waiting out a ttfb must not hold stop()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes the handlers still waiting out a ttfb
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget the requests and the queue; the default is a text reply again, no responder."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
        self.default, self.responder = Reply.text_reply(), None

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.pop(0)
        return self.responder(request) if self.responder is not None else self.default

    def _wait(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping (the handler should give up)."""
        return seconds <= 0 or not self._stopping.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: fifty clients connecting at once (bench service's bare
    # baseline) had about one request in ten refused or reset before the server saw it.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closed its keep-alive connection is not an error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real providers do

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw
            request = RecordedRequest("POST", self.path, dict(self.headers.items()), body, time.monotonic())
            reply = server._next(request)
            sent = False
            try:
                if server._wait(reply.ttfb_s):
                    self._send(request, reply)
                    sent = True
            except (BrokenPipeError, ConnectionResetError):  # the client gave up first (its timeout)
                pass
            if not sent or reply.kind in ("reset", "truncated"):
                self.close_connection = True

        def _send(self, request: RecordedRequest, reply: Reply) -> None:
            if reply.kind == "raw":
                self._respond(reply.status, reply.body or b"", reply.headers)
            elif reply.kind == "reset":
                self._head(200, {"Content-Length": "400"})
                self.wfile.write(b'{"id": "chatcmpl-fake", "cho')
                server._wait(0.05)  # the client now waits for the rest: it reads ECONNRESET
                # SO_LINGER 0: close() sends RST, not FIN. Closed here: socketserver would shut
                # the socket down first, which sends a FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif reply.kind == "truncated":
                payload = json.dumps(_completion(request, Reply.text_reply())).encode()
                self._head(200, {"Content-Length": str(len(payload) + 100)})
                self.wfile.write(payload[: len(payload) // 2])
            elif request.stream and reply.kind in ("text", "tool_call"):
                self._stream(request, reply)
            else:
                self._respond(200, json.dumps(_completion(request, reply)).encode(), reply.headers)

        def _head(self, status: int, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.end_headers()

        def _respond(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self._head(status, {"Content-Length": str(len(payload)), **headers})
            self.wfile.write(payload)

        def _stream(self, request: RecordedRequest, reply: Reply) -> None:
            self._head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
            for i, event in enumerate(_sse_events(request, reply)):
                if i and not server._wait(reply.token_interval_s):
                    self.close_connection = True
                    return
                data = f"data: {event}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def _completion(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    """The JSON body of a non-streaming reply: text, a tool call, or a malformed shape."""
    body = request.body if isinstance(request.body, dict) else {}
    message: dict[str, Any] | None = {"role": "assistant", "content": reply.text}
    if reply.kind == "tool_call":
        call = {"id": "call_fake", "type": "function", "function": _function(body, reply)}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
    elif reply.kind == "null_message":
        message = None
    finish = "tool_calls" if reply.kind == "tool_call" else "stop"
    choice = {"index": 0, "message": message, "finish_reason": finish}
    choices = [] if reply.kind == "empty_choices" else [choice]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": choices,
        "usage": _usage(reply),
    }


def _sse_events(request: RecordedRequest, reply: Reply) -> list[str]:
    """A streamed reply: a role chunk, one chunk per word (or the tool call), a last chunk with
    finish_reason and usage, then [DONE]."""
    body = request.body if isinstance(request.body, dict) else {}
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return json.dumps({**base, "choices": [choice], **extra})

    events = [chunk({"role": "assistant", "content": ""})]
    if reply.kind == "tool_call":
        call = {"index": 0, "id": "call_fake", "type": "function", "function": _function(body, reply)}
        events.append(chunk({"tool_calls": [call]}))
    else:
        events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(reply.text.split(" "))]
    finish = "tool_calls" if reply.kind == "tool_call" else "stop"
    return [*events, chunk({}, finish, usage=_usage(reply)), "[DONE]"]


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _function(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """A tool call's function: the name the reply sets, else the one the request asks for."""
    name = reply.tool_name
    choice, tools = body.get("tool_choice"), body.get("tools") or []
    if name is None and isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
    if name is None and tools:
        name = tools[0].get("function", {}).get("name")
    return {"name": name or "tool", "arguments": reply.arguments}
