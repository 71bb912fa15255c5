"""ScriptedModel: a deterministic, honest stand-in for an LLM.

It is given the replies it will make, in order of their kind: completions in the order written,
structured outputs in the order written among those of the requested type (the runtime makes
some calls after the answer, in the background, so only the order within a kind is the
script's to fix). A call with no reply of its kind left, a tool call to a tool that was not
offered, or a script left unconsumed (`assert_consumed`) fails loudly with what was expected
and what came. Replies may be callables that look at the request first, so a test can assert on
what the runtime actually sent (a callable, like a `fail`, answers the next call of any kind).
A `Say` with `pace_s` streams its words that many seconds apart (`stream` / `astream`).

    model = ScriptedModel([
        Intent(goal="greet"),            # a structured reply (type is checked)
        say("Hello!"),                    # a completion with text
    ])
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from framework.errors import DefinitionError, ScriptError
from framework.llm.messages import Completion, Message, Structured, ToolCall, Usage
from framework.yaml_files import load_yaml

M = TypeVar("M", bound=BaseModel)
_ids = itertools.count(1)


@dataclass
class Say:
    text: str
    pace_s: float = 0.0  # when streamed: the wait before each word


@dataclass
class CallTools:
    calls: list[tuple[str, dict[str, Any]]]
    text: str | None = None


@dataclass
class Fill:
    """A structured reply given as plain data, validated against the type the runtime asks for."""

    data: dict[str, Any]
    expect: str | None = None  # the response model's class name, if the script wants to check it


@dataclass
class Fail:
    """The call fails with this error, as a real model call can (timeout, invalid JSON, refusal
    after retries): lets a test prove the runtime survives it."""

    error: Exception


@dataclass
class Computed:
    """A reply computed from the request when it comes, for requests of one kind ("complete" or
    "structured"): a callable that still keeps its place among the replies of its kind."""

    reply: Callable[[ScriptedRequest], Reply]
    kind: str


@dataclass
class ScriptedRequest:
    kind: str  # "complete" | "structured"
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    response_model: type[BaseModel] | None = None

    @property
    def text(self) -> str:
        """Everything the request sent, as one string: handy for `assert "Python" in req.text`."""
        return "\n".join(m.content or "" for m in self.messages)


Reply = Say | CallTools | Fill | Fail | BaseModel
Step = Reply | Computed | Callable[[ScriptedRequest], Reply]


def say(text: str, pace_s: float = 0.0) -> Say:
    return Say(text, pace_s)


def call(name: str, /, **arguments: Any) -> CallTools:
    return CallTools([(name, arguments)])


def fail(error: Exception) -> Fail:
    return Fail(error)


class ScriptedModel:
    """A Model whose replies are written in advance. Shipped in the package for tests and demos."""

    def __init__(self, script: Iterable[Step] = (), name: str = "scripted") -> None:
        self.name = name
        self._script: list[Step] = list(script)
        self.requests: list[ScriptedRequest] = []
        self._lock = threading.RLock()

    def extend(self, steps: Iterable[Step]) -> None:
        self._script.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def assert_consumed(self) -> None:
        if self._script:
            raise ScriptError(
                f"ScriptedModel has {len(self._script)} unconsumed repl(ies); next: "
                f"{self._describe(self._script[0])}"
            )

    # --- Model protocol -------------------------------------------------------------------
    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        _pace: list[float] | None = None,
    ) -> Completion:
        request = ScriptedRequest("complete", list(messages), tools)
        reply = self._next(request)
        offered = {t["function"]["name"] for t in tools or []}
        if isinstance(reply, Say):
            if _pace is not None:
                _pace.append(reply.pace_s)
            return Completion(reply.text, [], Usage(calls=1), "stop")
        if isinstance(reply, CallTools):
            calls = []
            for name, args in reply.calls:
                if name not in offered:
                    raise ScriptError(f"script calls tool {name!r} but the runtime offered {sorted(offered)}")
                calls.append(ToolCall(f"call_{next(_ids)}", name, dict(args)))
            return Completion(reply.text, calls, Usage(calls=1), "tool_calls")
        raise ScriptError(
            f"runtime asked for a completion but the script's next reply is {self._describe(reply)}"
        )

    def stream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> Iterator[str | Completion]:
        """`complete`, its text given word by word (paced as the script says)."""
        completion, pace = self._paced(messages, tools)
        for word in _words(completion.text or ""):
            if pace:
                time.sleep(pace)
            yield word
        yield completion

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[str | Completion]:
        completion, pace = self._paced(messages, tools)
        for word in _words(completion.text or ""):
            if pace:
                await asyncio.sleep(pace)
            yield word
        yield completion

    def _paced(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> tuple[Completion, float]:
        paces: list[float] = []
        completion = self.complete(messages, tools, paces)
        return completion, (paces[0] if paces else 0.0)

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        request = ScriptedRequest("structured", list(messages), None, response_model)
        reply = self._next(request)
        wanted = response_model.__name__
        if isinstance(reply, Fill):
            if reply.expect is not None and reply.expect != wanted:
                raise ScriptError(f"runtime asked for {wanted}, script has a {reply.expect}")
            try:
                return Structured(response_model.model_validate(reply.data), Usage(calls=1))
            except ValidationError as exc:
                raise ScriptError(f"scripted {wanted} is invalid: {exc}") from exc
        if isinstance(reply, BaseModel):
            if not isinstance(reply, response_model):
                raise ScriptError(
                    f"runtime asked for {wanted}, script has a {type(reply).__name__}: {reply!r}"
                )
            return Structured(reply, Usage(calls=1))
        raise ScriptError(f"runtime asked for {wanted} but the script has {self._describe(reply)}")

    # --- internals -------------------------------------------------------------------------
    def _next(self, request: ScriptedRequest) -> Reply:
        with self._lock:  # the memory worker asks from its own threads
            step = self._take(request)
        if isinstance(step, Computed):  # computed outside the lock: it may wait
            reply = step.reply(request)
        else:
            reply = step(request) if callable(step) and not isinstance(step, BaseModel) else step
        if isinstance(reply, Fail):
            raise reply.error
        return reply

    def _take(self, request: ScriptedRequest) -> Step:
        self.requests.append(request)
        if not self._script:
            what = request.response_model.__name__ if request.response_model else "a completion"
            raise ScriptError(
                f"unexpected call #{len(self.requests)} for {what}: the script is exhausted. "
                f"Last message: {(request.messages[-1].content or '')[:200]!r}"
            )
        index = next((i for i, step in enumerate(self._script) if _answers(step, request)), None)
        if index is None:
            what = request.response_model.__name__ if request.response_model else "a completion"
            raise ScriptError(
                f"runtime asked for {what} (call #{len(self.requests)}) but the script has no reply "
                f"of that kind left; next: {self._describe(self._script[0])}"
            )
        return self._script.pop(index)

    @staticmethod
    def _describe(step: Any) -> str:
        if isinstance(step, BaseModel):
            return f"{type(step).__name__}({step.model_dump_json()[:120]})"
        return repr(step)[:160]

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        """Load a script from YAML: a list of `{say: text}`, `{call: {name, arguments}}`
        or `{fill: {...}}` (optionally `{fill: {...}, type: Intent}`)."""
        p = Path(path)
        try:
            raw = load_yaml(p)
        except (OSError, yaml.YAMLError) as exc:
            raise DefinitionError(f"{p}: cannot read script: {exc}") from exc
        if not isinstance(raw, list):
            raise DefinitionError(f"{p}: a script is a YAML list of replies")
        steps: list[Step] = []
        for i, item in enumerate(raw, 1):
            steps.append(_parse_step(p, i, item))
        return cls(steps, name=f"scripted:{p.name}")


def _answers(step: Step, request: ScriptedRequest) -> bool:
    """Whether a scripted step can be the reply to this request (callables and failures answer
    any kind: they are taken in order)."""
    if isinstance(step, (Say, CallTools)):
        return request.kind == "complete"
    if isinstance(step, Fill):
        return request.kind == "structured" and (
            step.expect is None
            or request.response_model is None
            or step.expect == request.response_model.__name__
        )
    if isinstance(step, BaseModel):
        return request.response_model is not None and isinstance(step, request.response_model)
    if isinstance(step, Computed):
        return step.kind == request.kind
    return True


def _words(text: str) -> list[str]:
    """Text in stream-sized pieces: each word with the space before it."""
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


def _parse_step(path: Path, index: int, item: Any) -> Reply:
    where = f"{path}: reply #{index}"
    if not isinstance(item, dict):
        raise DefinitionError(f"{where}: expected a mapping with say, call or fill")
    if "say" in item:
        return Say(str(item["say"]), float(item.get("pace", 0.0)))
    if "call" in item:
        spec = item["call"]
        specs = spec if isinstance(spec, list) else [spec]
        try:
            return CallTools([(s["name"], dict(s.get("arguments") or {})) for s in specs])
        except (KeyError, TypeError):
            raise DefinitionError(f"{where}: call needs name and arguments") from None
    if "fill" in item:
        if not isinstance(item["fill"], dict):
            raise DefinitionError(f"{where}: fill must be a mapping")
        return Fill(item["fill"], item.get("type"))
    raise DefinitionError(f"{where}: expected one of say, call, fill; got {sorted(item)}")


class FunctionModel:
    """A Model whose replies are computed by functions of the request: for long or branching
    conversations where writing every reply in order would be the test's whole text. Still
    honest: it only knows what the runtime sent it."""

    def __init__(
        self,
        complete: Callable[[ScriptedRequest], Reply],
        structured: Callable[[ScriptedRequest], BaseModel],
        name: str = "function",
    ) -> None:
        self.name = name
        self._complete, self._structured = complete, structured
        self.requests: list[ScriptedRequest] = []

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion:
        request = ScriptedRequest("complete", list(messages), tools)
        self.requests.append(request)
        return ScriptedModel([self._complete(request)]).complete(messages, tools)

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        request = ScriptedRequest("structured", list(messages), None, response_model)
        self.requests.append(request)
        return ScriptedModel([self._structured(request)]).structured(messages, response_model)


__all__ = [
    "Computed",
    "FunctionModel",
    "ScriptedModel",
    "ScriptedRequest",
    "Say",
    "CallTools",
    "Fill",
    "Fail",
    "say",
    "call",
    "fail",
]
