"""A Model whose every call is a span (OpenTelemetry GenAI semantic conventions): the operation,
the provider and model, input and output tokens, finish reason, latency and, for a streamed
answer, the time to its first word. Wraps any Model; without OpenTelemetry it only delegates."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from framework.llm.base import Model
from framework.llm.messages import Completion, Message, Structured, Usage
from framework.telemetry import Span, enabled

M = TypeVar("M", bound=BaseModel)


class TracedModel:
    def __init__(self, model: Model, parent: Span) -> None:
        self.model, self.parent = model, parent
        self.name = getattr(model, "name", "model")

    def __getattr__(self, name: str) -> Any:  # context_window and the like
        return getattr(self.model, name)

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion:
        span, started = self._start("chat"), time.perf_counter()
        try:
            completion = self.model.complete(messages, tools)
        except BaseException as exc:
            _failed(span, exc)
            raise
        _finish(span, started, completion.usage, completion.finish_reason)
        return completion

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        span, started = self._start("chat", response_model.__name__), time.perf_counter()
        try:
            out = self.model.structured(messages, response_model)
        except BaseException as exc:
            _failed(span, exc)
            raise
        _finish(span, started, out.usage, "tool_calls")
        return out

    def stream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> Iterator[str | Completion]:
        stream = getattr(self.model, "stream", None)
        if stream is None:
            completion = self.complete(messages, tools)
            if completion.text:
                yield completion.text
            yield completion
            return
        span, started = self._start("chat"), time.perf_counter()
        first: float | None = None
        try:
            for piece in stream(messages, tools):
                if isinstance(piece, Completion):
                    _finish(span, started, piece.usage, piece.finish_reason, first)
                elif first is None:
                    first = time.perf_counter()
                yield piece
        except BaseException as exc:  # GeneratorExit too: the caller cancelled the turn
            _failed(span, exc)
            raise

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[str | Completion]:
        astream = getattr(self.model, "astream", None)
        if astream is None:
            completion = self.complete(messages, tools)
            if completion.text:
                yield completion.text
            yield completion
            return
        span, started = self._start("chat"), time.perf_counter()
        first: float | None = None
        try:
            async for piece in astream(messages, tools):
                if isinstance(piece, Completion):
                    _finish(span, started, piece.usage, piece.finish_reason, first)
                elif first is None:
                    first = time.perf_counter()
                yield piece
        except BaseException as exc:
            _failed(span, exc)
            raise

    def _start(self, operation: str, output: str | None = None) -> Span:
        provider, _, _ = self.name.partition("/")
        return self.parent.child(
            f"{operation} {self.name}",
            {
                "gen_ai.operation.name": operation,
                "gen_ai.system": provider if "/" in self.name else "litellm",
                "gen_ai.provider.name": provider if "/" in self.name else "litellm",
                "gen_ai.request.model": self.name,
                "gen_ai.output.type": "json" if output else "text",
                "framework.response_model": output,
            },
            kind="client",
        )


def traced(model: Model, parent: Span) -> Model:
    """`model` with spans under `parent` (`model` itself when OpenTelemetry is not installed)."""
    return TracedModel(model, parent) if enabled() else model


def _finish(span: Span, started: float, usage: Usage, reason: str | None, first: float | None = None) -> None:
    span.update(
        {
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "gen_ai.response.finish_reasons": [reason] if reason else None,
            "framework.latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "framework.first_token_ms": round((first - started) * 1000, 3) if first else None,
            "framework.cost_usd": usage.cost_usd or None,
        }
    )
    span.end()


def _failed(span: Span, exc: BaseException) -> None:
    span.fail(exc)
    span.end()
