"""OpenAI's chat completions on the wire, as the service speaks it (framework.serve.http_app): the
request body, the reply's ids and its completion, chunk and usage bodies, the SSE stream of a
turn's events, and the OpenAI-style error body."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from framework.errors import FrameworkError

if TYPE_CHECKING:
    from framework.turn import Turn


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; fields the service does not use are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field("", description="ignored: the agent has its model (echoed back)")
    messages: list[ChatMessage] = Field(min_length=1, description="only the last user message is used")
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = Field(None, description="if given, must be the API key's user")
    metadata: dict[str, Any] | None = Field(None, description="session_id: the conversation to continue")


KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
}


def error_body(
    status: int, message: str, param: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    kind = kind or KINDS.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": kind}}


class Reply:
    """One response's ids and the chunk and completion bodies, OpenAI's shapes."""

    def __init__(self, model: str, session_id: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model
        self.session_id = session_id

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    def completion(self, turn: Turn) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": turn.answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage(turn),
            "framework": self.about(turn),
        }

    def about(self, turn: Turn) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "memory_job": turn.memory_job,
            "tool_calls": [{"name": c.name, "verdict": c.verdict, "ok": c.ok} for c in turn.tool_calls],
            "error": turn._error,
        }


def usage(turn: Turn) -> dict[str, int]:
    prompt, completion = turn.answer_usage.prompt_tokens, turn.answer_usage.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def stream_events(events: AsyncIterator[Any], reply: Reply, include_usage: bool) -> AsyncIterator[str]:
    """The turn's events as SSE chunks: a role chunk, the answer's text as it comes, a finishing
    chunk (with the `framework` object), optionally a usage chunk, then [DONE]."""
    from framework.events import TextDelta, TurnFinished

    yield reply.chunk({"role": "assistant", "content": ""})
    try:
        async for event in events:
            if isinstance(event, TextDelta) and event.text:
                yield reply.chunk({"content": event.text})
            elif isinstance(event, TurnFinished):
                turn = event.turn
                if turn.failed:
                    body = error_body(502, f"the turn failed: {turn._error}", kind="model_error")
                    yield f"data: {json.dumps(body)}\n\n"
                    break
                yield reply.chunk({}, "stop", framework=reply.about(turn))
                if include_usage:
                    yield f"data: {json.dumps({**usage_chunk(reply), 'usage': usage(turn)})}\n\n"
    except FrameworkError as exc:  # the turn could not run at all (e.g. no usable model)
        yield f"data: {json.dumps(error_body(502, f'{type(exc).__name__}: {exc}', kind='model_error'))}\n\n"
    yield "data: [DONE]\n\n"


def usage_chunk(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": reply.created,
        "model": reply.model,
        "choices": [],
    }
