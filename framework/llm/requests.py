"""LLM requests as values, and the drivers that answer them.

The loop does not call the model: it yields an `Ask` (a completion, streamed) or an
`AskStructured` (a validated output) and is sent the reply, or has the model's error thrown in
where it asked. Everything else it yields is an event for the caller. One loop, two drivers:
`drive` answers with the model's synchronous calls, `adrive` with its async ones (litellm's
async API) in the caller's event loop, with no thread per turn. A model without `stream` /
`astream` is asked with `complete` and its text comes out as one delta.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from framework.events import Event, TextDelta
from framework.llm.base import Model
from framework.llm.messages import Completion, Message, Structured

Steps = Generator[Any, Any, None]  # what a turn yields: Ask, AskStructured or an Event


@dataclass(frozen=True)
class Ask:
    """A completion the turn waits for (its text is streamed to the caller when `shown`)."""

    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    shown: bool = True


@dataclass(frozen=True)
class AskStructured:
    """A structured output the turn waits for; from `model` when given (the query rewrite's may be
    another than the turn's), else from the turn's model."""

    messages: list[Message]
    response_model: type[BaseModel]
    model: Model | None = None


def stream_of(model: Model, ask: Ask) -> Iterator[str | Completion]:
    """Text deltas, then the whole Completion."""
    stream = getattr(model, "stream", None)
    if stream is not None:
        yield from stream(ask.messages, ask.tools)
        return
    completion = model.complete(ask.messages, ask.tools)
    if completion.text:
        yield completion.text
    yield completion


async def astream_of(model: Model, ask: Ask) -> AsyncIterator[str | Completion]:
    astream = getattr(model, "astream", None)
    if astream is not None:
        async for piece in astream(ask.messages, ask.tools):
            yield piece
        return
    completion = await asyncio.to_thread(model.complete, ask.messages, ask.tools)
    if completion.text:
        yield completion.text
    yield completion


def drive(steps: Steps, model: Model) -> Iterator[Event]:
    """Run a turn's steps with synchronous model calls; yield its events as they happen.
    Closing this iterator closes the steps (the turn is cancelled where it stands)."""
    reply: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                item = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration:
                return
            reply, error = None, None
            if isinstance(item, Ask):
                try:
                    for piece in stream_of(model, item):
                        if isinstance(piece, str):
                            if item.shown:
                                yield TextDelta(piece)
                        else:
                            reply = piece
                except Exception as exc:  # the loop's error policy decides, where it asked
                    error = exc
            elif isinstance(item, AskStructured):
                try:
                    reply = (item.model or model).structured(item.messages, item.response_model)
                except Exception as exc:
                    error = exc
            else:
                yield item
    finally:
        steps.close()


async def adrive(steps: Steps, model: Model) -> AsyncIterator[Event]:
    """`drive` for async callers: the model is awaited in the running event loop."""
    reply: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                item = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration:
                return
            reply, error = None, None
            if isinstance(item, Ask):
                try:
                    async for piece in astream_of(model, item):
                        if isinstance(piece, str):
                            if item.shown:
                                yield TextDelta(piece)
                        else:
                            reply = piece
                except Exception as exc:
                    error = exc
            elif isinstance(item, AskStructured):
                try:
                    reply = await _astructured(item.model or model, item)
                except Exception as exc:
                    error = exc
            else:
                yield item
    finally:
        steps.close()


async def _astructured(model: Model, ask: AskStructured) -> Structured[Any]:
    astructured = getattr(model, "astructured", None)
    if astructured is not None:
        return await astructured(ask.messages, ask.response_model)
    return await asyncio.to_thread(model.structured, ask.messages, ask.response_model)
