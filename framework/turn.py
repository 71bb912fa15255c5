"""The record of one turn: what the runtime recalled, sent, did, judged and wrote.

Every step of the loop returns a small dataclass; `Turn` gathers them, so a test or
`framework chat` can show exactly what happened and why.

The answer comes first; the turn's memory work (framework.steps.memorize) is applied after it, in
the background. What that work adds to the record — `intent`, `memory_ops`, `memory_usage`, its
share of `usage`, its errors and warnings, a judged `outcome` — is read through properties that
wait for it (bounded by the memory_wait_s setting): `turn.memory_ops` is the applied operations,
whenever it is asked. `memory_applied()` / `await turn.memory_applied_async()` wait explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from framework.errors import FrameworkError
from framework.llm.messages import Message, Usage
from framework.memory.operations import MemoryOp
from framework.memory.recollection import Recollection
from framework.memory.worker import NotApplied
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.steps.intent import Intent
from framework.steps.skill import SkillRun


@dataclass
class Turn:
    user_id: str | None
    session_id: str
    user_input: str
    recollection: Recollection | None = None
    messages: list[Message] = field(default_factory=list)  # the last prompt sent to the model
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    answer: str = ""
    answer_usage: Usage = field(default_factory=Usage)  # the LLM calls the answer waited for
    skill: SkillRun | None = None  # when a skill was walked
    timings_ms: dict[str, float] = field(default_factory=dict)
    memory_job: int | None = None  # the stored job of this turn's memory work (None: nothing to do)
    wait_s: float = 30.0  # how long the properties below wait for the memory work
    said_at: datetime | None = None  # when the user said it (event time; None: now)
    _intent: Intent | None = None
    _outcome: Outcome | None = None
    _memory_ops: list[MemoryOp] = field(default_factory=list)
    _memory_usage: Usage = field(default_factory=Usage)
    _intent_usage: Usage = field(default_factory=Usage)
    _error: str | None = None
    _warnings: list[str] = field(default_factory=list)
    _pending: Future[Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- what the memory work adds (each waits for it) ----------------------------------------
    @property
    def intent(self) -> Intent | None:
        self.memory_applied()
        return self._intent

    @intent.setter
    def intent(self, value: Intent | None) -> None:
        self._intent = value

    @property
    def outcome(self) -> Outcome | None:
        self.memory_applied()
        return self._outcome

    @outcome.setter
    def outcome(self, value: Outcome | None) -> None:
        self._outcome = value

    @property
    def memory_ops(self) -> list[MemoryOp]:
        self.memory_applied()
        return self._memory_ops

    @property
    def memory_usage(self) -> Usage:
        """The memory operations' share of the turn's LLM usage."""
        self.memory_applied()
        return self._memory_usage

    @property
    def usage(self) -> Usage:
        """Every LLM call of the turn: the answer's and the memory work's."""
        self.memory_applied()
        total = Usage()
        for part in (self.answer_usage, self._intent_usage, self._memory_usage):
            total.add(part)
        return total

    @property
    def error(self) -> str | None:
        self.memory_applied()
        return self._error

    @property
    def warnings(self) -> list[str]:
        self.memory_applied()
        return self._warnings

    def ops(self, kind: str) -> list[MemoryOp]:
        return [op for op in self.memory_ops if op.kind == kind]

    # --- the answer's side ----------------------------------------------------------------------
    def exchange(self) -> Exchange:
        """The turn as memory learns from it (after step 5)."""
        assert self._outcome is not None, "the outcome is judged before memory learns from a turn"
        return Exchange(
            self.user_input, self.answer, list(self.tool_calls), self._outcome, said_at=self.said_at
        )

    def fail(self, message: str) -> None:
        """Record a failure that did not stop the turn (several are joined)."""
        self._error = f"{self._error}; {message}" if self._error else message

    def warn(self, message: str) -> None:
        self._warnings.append(message)

    @property
    def failed(self) -> bool:
        """The answer's side failed (does not wait for memory)."""
        return self._error is not None

    # --- waiting for the memory work ------------------------------------------------------------
    def expect_memory(self, job_id: int, pending: Future[Any]) -> None:
        self.memory_job, self._pending = job_id, pending

    def memory_applied(self, timeout: float | None = None) -> bool:
        """Wait for this turn's memory work and take its results into the record. False when it
        is still running after `timeout` (default: wait_s); the record says so."""
        pending = self._pending
        if pending is None:
            return True
        try:
            result = pending.result(self.wait_s if timeout is None else timeout)
        except FutureTimeout:
            return False
        except AssertionError:  # a test double's complaint (ScriptError): loud, where it is read
            raise
        except NotApplied as exc:
            self._take(None, str(exc))
            return True
        except FrameworkError as exc:
            self._take(None, f"{exc} (the memory work is kept to retry)")
            return True
        self._take(result, None)
        return True

    async def memory_applied_async(self, timeout: float | None = None) -> bool:
        """`memory_applied` for async code (the event loop is not blocked)."""
        pending = self._pending
        if pending is not None and not pending.done():
            wait = self.wait_s if timeout is None else timeout
            with contextlib.suppress(Exception):  # the outcome is read below, as `memory_applied` reads it
                await asyncio.wait_for(asyncio.wrap_future(pending), wait)
        return self.memory_applied(timeout=0)

    def _take(self, result: Any, error: str | None) -> None:
        with self._lock:
            if self._pending is None:
                return
            self._pending = None
            if error is not None:
                self.fail(error)
                return
            self._intent = result.intent
            self._memory_ops += result.ops
            self._memory_usage.add(result.usage)
            self._intent_usage.add(result.intent_usage)
            self._warnings += result.warnings
            if result.outcome is not None:
                self._outcome = result.outcome
