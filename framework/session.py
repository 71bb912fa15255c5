"""A conversation of one user with one agent.

`stream(text)` runs one turn and yields its events as they happen (framework.events): the
answer's text as it is generated, tool calls with the gate's verdicts, then `TurnFinished`.
`astream` is the same turn for async code, with the model awaited in the caller's event loop (no
thread per turn). `send` / `asend` run the same path and return the `Turn`. The turn's memory work
is applied after the answer (framework.steps.memorize); `flush` waits for it, `close` too.

Input is checked here (framework.inputs), before anything is read or written, so bad input never
reaches the store, the indexes, the embedder, the tokenizer, the log or working memory. A None
user is anonymous, a None session a new one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Generator
from datetime import datetime

from framework.events import Event, MemoryApplied, TurnFinished
from framework.inputs import checked_id, checked_message, checked_time
from framework.llm.requests import Steps, adrive, drive
from framework.llm.traced import traced
from framework.log import user_ref
from framework.loop import Runtime, run_turn
from framework.memory.manager import MemoryManager
from framework.telemetry import Span, root
from framework.turn import Turn


class Session:
    """Who is talking (`user_id`; None: anonymous, nothing written long-term), in which
    conversation (`session_id`), on which agent's runtime."""

    def __init__(self, runtime: Runtime, user_id: str | None, session_id: str | None = None) -> None:
        self.runtime = runtime
        self.user_id = None if user_id is None else checked_id("user_id", user_id)
        self.session_id = (
            uuid.uuid4().hex[:12] if session_id is None else checked_id("session_id", session_id)
        )

    @property
    def memory(self) -> MemoryManager:
        return self.runtime.memory

    def stream(
        self, text: str, wait_memory: bool = False, *, said_at: datetime | None = None
    ) -> Generator[Event, None, None]:
        """Run one turn, yielding its events; with `wait_memory`, a `MemoryApplied` follows the
        `TurnFinished` once the turn's memory work ran. Closing the iterator early cancels the
        turn where it stands (tool calls that ran stay on record; nothing is queued for memory).
        `said_at`: when the user said it (default now; e.g. a conversation being imported): the
        memories it teaches are written as of then."""
        text = checked_message(text, self.memory.settings.max_message_chars)
        when = checked_time(said_at)
        span = self._span()
        try:
            for event in drive(self._steps(text, span, when), traced(self.runtime.model, span)):
                yield event
                if wait_memory and isinstance(event, TurnFinished):
                    yield _applied(event.turn)
        except GeneratorExit:
            span.set("framework.cancelled", True)
            raise
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            span.end()

    async def astream(
        self, text: str, wait_memory: bool = False, *, said_at: datetime | None = None
    ) -> AsyncIterator[Event]:
        text = checked_message(text, self.memory.settings.max_message_chars)
        when = checked_time(said_at)
        span = self._span()
        try:
            async for event in adrive(self._steps(text, span, when), traced(self.runtime.model, span)):
                yield event
                if wait_memory and isinstance(event, TurnFinished):
                    await event.turn.memory_applied_async()
                    yield _applied(event.turn)
        except GeneratorExit:
            span.set("framework.cancelled", True)
            raise
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            span.end()

    def send(self, text: str, *, said_at: datetime | None = None) -> Turn:
        """Run one turn of the control loop and return its full record (the answer is complete;
        the memory work may still be running: `turn.memory_ops` waits for it). `said_at`: when
        the user said it (default now)."""
        for event in self.stream(text, said_at=said_at):
            if isinstance(event, TurnFinished):
                return event.turn
        raise AssertionError("a turn ends with TurnFinished")  # pragma: no cover

    async def asend(self, text: str, *, said_at: datetime | None = None) -> Turn:
        async for event in self.astream(text, said_at=said_at):
            if isinstance(event, TurnFinished):
                return event.turn
        raise AssertionError("a turn ends with TurnFinished")  # pragma: no cover

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until this user's queued memory work is applied (False: `timeout` ran out)."""
        return self.memory.settle(self.user_id, timeout)

    async def aflush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.flush, timeout)

    def close(self) -> None:
        """Wait for this session's memory work (bounded by memory_wait_s): nothing is lost if the
        wait runs out, the work stays queued in the store."""
        self.flush()

    def _steps(self, text: str, span: Span, said_at: datetime | None = None) -> Steps:
        return run_turn(self.runtime, self.user_id, self.session_id, text, span, said_at)

    def _span(self) -> Span:
        """The turn's span (OpenTelemetry GenAI: invoke_agent); users by reference only."""
        agent = self.runtime.agent
        return root(
            f"invoke_agent {agent}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": agent,
                "framework.user": user_ref(self.user_id),
                "framework.session": self.session_id,
            },
        )


def _applied(turn: Turn) -> MemoryApplied:
    turn.memory_applied()
    return MemoryApplied(list(turn.memory_ops), turn.error)
