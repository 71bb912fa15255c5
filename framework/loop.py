"""The control loop: the only place the steps of a turn are sequenced.

    retrieve → reason ⇄ act (every call gated) → evaluate → answer │ memory work (after it)

The answer request is the first LLM request the user waits for: retrieval searches with the
user's own words (no intent call before it), skills are chosen in the answer request itself
(framework.steps.respond), and what the turn means for memory — the intent, extraction,
contradiction checks, confidence, the summary — is queued durably when the answer is given and
applied after it (framework.steps.memorize, by the memory worker). Memory is written from
outcomes, after the turn: store results, not intentions.

`run_turn` is a generator: it yields an `Ask` / `AskStructured` wherever it needs the model (a
driver answers: framework.llm.requests, sync or async) and an event for everything the caller
may show (framework.events). One error policy for every step (`_attempt`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from framework.errors import FrameworkError, ModelNotConfigured
from framework.events import MemoryQueued, TurnFinished
from framework.llm.base import Model
from framework.llm.messages import Message
from framework.llm.requests import Ask, Steps
from framework.log import headline, logger, user_ref
from framework.memory.context import ContextWindow
from framework.memory.manager import MemoryManager
from framework.memory.working import MAX_CONVERSATION_LINES as MAX_LINES
from framework.memory.working import WorkingState
from framework.outcome import ToolCallRecord
from framework.steps.act import CallContext, Toolbox, calls_in
from framework.steps.evaluate import evaluate
from framework.steps.intent import ACKNOWLEDGED, is_trivial
from framework.steps.memorize import Said, memory_job
from framework.steps.reason import conversation, system_prompt
from framework.steps.respond import ReasonAct
from framework.steps.skill import SkillExecutor, walkable
from framework.steps.summarize import summary_prompt
from framework.telemetry import NULL, Span
from framework.turn import Turn

T = TypeVar("T")


class Hooks(Protocol):
    """The agent's hooks (framework.agent.Agent: each does nothing unless overridden)."""

    def on_turn_start(self, turn: Turn) -> None: ...

    def on_tool_call(self, record: ToolCallRecord) -> None: ...

    def on_turn_end(self, turn: Turn) -> None: ...


@dataclass(frozen=True)
class Runtime:
    """What the loop runs a turn with: an agent's settings and parts, assembled once per agent."""

    instructions: str
    model: Model
    memory: MemoryManager
    toolbox: Toolbox
    window: ContextWindow
    max_steps: int
    judge_outcomes: bool
    hooks: Hooks
    agent: str = "agent"  # the agent's name (traces)


def run_turn(
    rt: Runtime,
    user_id: str | None,
    session_id: str,
    user_input: str,
    span: Span = NULL,
    said_at: datetime | None = None,
) -> Steps:
    """One turn; `span` is the turn's trace span (its steps are traced under it); `said_at` when
    the user said it (None: now)."""
    turn = Turn(user_id, session_id, user_input, wait_s=rt.memory.settings.memory_wait_s, said_at=said_at)
    clock = _Clock(turn)
    rt.memory.settle(user_id)  # the user's previous turn's memory work first (bounded wait)
    state = rt.memory.load_state(user_id, session_id)
    clock.lap("load_state")
    # Every tool call of the turn — the model's, a skill's, a hook's, a tool's own — is gated in
    # this context, recorded on the turn, audited and shown to the agent's hook.
    calls = CallContext(rt.toolbox, state, lambda record: _observe(rt, turn, record))
    try:
        cycle = yield from _answer(rt, turn, state, calls, clock, span)
    except BaseException:  # cancelled by the caller, or stopped: what ran is on record (the gate needs it)
        if turn.tool_calls:
            rt.memory.save_state(state)
        raise
    yield from _fold_anonymous(rt, turn, state, cycle)
    step = span.child("framework.memory_queue")
    job = _memory_work(rt, turn, state, cycle, span)  # the work is traced under the turn
    step.set("framework.memory_job", job)
    step.end()
    clock.lap("memory_queued")
    span.update(
        {
            "framework.tool_calls": len(turn.tool_calls),
            "framework.skill": turn.skill.skill if turn.skill else None,
            "framework.outcome": turn._outcome.status if turn._outcome else None,
            "framework.answer_chars": len(turn.answer),
            "framework.error": turn._error,
        }
    )
    if job is not None:
        yield MemoryQueued(job)
    _log(turn)
    with calls_in(calls):
        rt.hooks.on_turn_end(turn)
    yield TurnFinished(turn)


def _answer(
    rt: Runtime, turn: Turn, state: WorkingState, calls: CallContext, clock: _Clock, span: Span
) -> Any:
    """Retrieve, then reason ⇄ act (streamed), then evaluate; returns the cycle."""
    memory = rt.memory
    user_id, user_input = turn.user_id, turn.user_input
    with calls_in(calls):
        rt.hooks.on_turn_start(turn)
    trivial = is_trivial(user_input)
    if trivial:
        turn.intent = ACKNOWLEDGED.model_copy()
    procedures = memory.procedures  # skills and policies as the files say now, once per turn
    hints = None if trivial or user_id is None else (yield from _query_hints(memory, user_input, span))
    turn.recollection = recalled = memory.recall(
        user_id, user_input, (), procedures, span, rewrite=False, hints=hints
    )
    turn.answer_usage.add(recalled.usage)  # the query rewrite's call, when the agent asks for one
    clock.lap("retrieve")

    system = system_prompt(rt.instructions, recalled, state, rt.window)
    cycle = ReasonAct(
        rt.window, system, conversation(state), user_input, calls, rt.max_steps, walkable(procedures.skills)
    )

    def unfinished(exc: FrameworkError) -> None:
        turn.fail(f"{type(exc).__name__}: {exc}")
        turn.answer = turn.answer or f"I could not finish this: {exc}"

    calls.span = step = span.child("framework.reason_act")
    try:
        yield from _reason_act(cycle, turn, state, unfinished)
    finally:  # also when the caller cancels the turn mid-answer
        step.set("framework.tool_calls", len(cycle.tool_calls))
        step.end()
    turn.messages = cycle.messages
    turn.answer_usage.add(cycle.usage)
    clock.lap("reason_act")
    turn.outcome = evaluate(turn.tool_calls, turn.answer, turn._error)  # the model may judge it later
    return cycle


def _query_hints(memory: MemoryManager, user_input: str, span: Span) -> Any:
    """The query rewrite's hints when the agent asks for one (framework.memory.rewrite), asked
    through the turn's driver so that an async caller awaits the model; a failure gives none and
    recall says why."""
    rewriter = memory.rewriter
    if rewriter is None or not user_input.strip():
        return None
    started = time.perf_counter()
    try:
        out = yield rewriter.ask(user_input, span)
    except FrameworkError as exc:
        return rewriter.failed(exc, started)
    return rewriter.received(out, started)


def _reason_act(
    cycle: ReasonAct, turn: Turn, state: WorkingState, unfinished: Callable[[FrameworkError], None]
) -> Any:
    """Reason ⇄ act until an answer; a skill the model chose is walked through the same cycle."""
    result = yield from _attempt(cycle.run(), unfinished)
    if result is not None and result.skill is not None:
        walk = SkillExecutor(result.skill).run(cycle, state)
        turn.skill = yield from _attempt(walk, unfinished)
        if turn.skill is not None:
            turn.answer = turn.skill.text
            if turn.skill.error:
                turn.fail(
                    f"skill {turn.skill.skill} stopped at step {turn.skill.failed_step}: {turn.skill.error}"
                )
    elif result is not None:
        turn.answer = result.text
    return result


def _memory_work(rt: Runtime, turn: Turn, state: WorkingState, cycle: ReasonAct, span: Span) -> int | None:
    """Keep the exchange in working memory and queue what memory does with the turn: stored
    before this returns, applied after it (or here, with memory_work = inline)."""
    memory, recalled = rt.memory, turn.recollection
    lines_before = len(state.conversation)
    said = Said(turn.exchange(), [line.content for line in state.conversation if line.role == "user"], span)
    state.add_exchange(turn.user_input, turn.answer, [c.result for c in turn.tool_calls])
    memory.save_state(state)
    fold = min(lines_before, rt.window.to_fold(cycle.system, conversation(state), [], MAX_LINES))
    acknowledged = turn._intent is not None  # "thanks": nothing to learn; a fold, if one is due
    if turn.user_id is None or recalled is None or (acknowledged and not fold):
        return None
    payload = memory_job(
        turn.exchange(),
        state,
        [m.id for m in recalled.shown() if m.id is not None],
        [r.memory.id for r in recalled.relevant if r.memory.id],
        lines_before=lines_before,
        fold=fold,
        judge_outcome=rt.judge_outcomes and not turn.failed,
        acknowledged=acknowledged,
    )
    job_id, pending = memory.submit(turn.user_id, turn.session_id, payload, live=said)
    turn.expect_memory(job_id, pending)
    return job_id


def _fold_anonymous(rt: Runtime, turn: Turn, state: WorkingState, cycle: ReasonAct) -> Steps:
    """An anonymous session has no memory queue: when its conversation outgrows the window, the
    oldest lines are folded into the rolling summary here, after the answer (not streamed)."""
    if turn.user_id is not None:
        return
    history = conversation(state) + [Message("user", turn.user_input), Message("assistant", turn.answer)]
    fold = rt.window.to_fold(cycle.system, history, [], MAX_LINES)
    if not fold:
        return
    lines = state.conversation[:fold]
    try:
        reply = yield Ask(summary_prompt(state.summary, lines), shown=False)
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:
        turn.warn(f"summary not updated: {exc}")
    else:
        state.summary = (reply.text or "").strip() or state.summary
        turn.answer_usage.add(reply.usage)
    state.folded_lines += len(lines)
    del state.conversation[: len(lines)]


def _attempt(
    step: Generator[Any, Any, T], failed: Callable[[FrameworkError], None]
) -> Generator[Any, Any, T | None]:
    """The loop's one error policy. A missing or unusable model configuration stops the turn (the
    user must fix it); any other failure the framework raises on purpose is handed to `failed`
    (which records it on the turn) and the turn goes on without that step's result."""
    try:
        return (yield from step)
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:
        failed(exc)
        return None


def _observe(rt: Runtime, turn: Turn, record: ToolCallRecord) -> None:
    """Each tool call as it happens: recorded on the turn, audited with the policy versions that
    decided it, then shown to the agent's hook."""
    turn.tool_calls.append(record)
    rt.memory.audit_gate(turn.user_id, record)
    rt.hooks.on_tool_call(record)


def _log(turn: Turn) -> None:
    """What happened, without what was said: ids, kinds and the framework's own reasons, users by
    reference (logs are kept longer and read by more people than the store; deleting a user must
    not leave them behind)."""
    who = f"user={user_ref(turn.user_id)} session={turn.session_id}"
    if turn.failed:
        logger.warning("%s turn failed in part: %s", who, headline(turn._error or ""))


class _Clock:
    def __init__(self, turn: Turn) -> None:
        self.turn, self.last = turn, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.turn.timings_ms[name] = (now - self.last) * 1000
        self.last = now
