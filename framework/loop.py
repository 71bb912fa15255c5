"""The control loop: the only place the steps of a turn are sequenced.

    1 intent → 2 retrieve → 3 reason ⇄ 4 act (every call gated) → 5 evaluate → 6 memory ops

Memory is written after the outcome, never before: store results, not intentions.
Each step is a plain function (or, for reason ⇄ act, one named object) that returns a small typed
result; the loop records them on the `Turn`. One error policy for every step (`_attempt`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from framework.errors import FrameworkError, ModelNotConfigured
from framework.llm.base import Model
from framework.llm.messages import Message
from framework.log import authored_reason, headline, logger, user_ref
from framework.memory.context import ContextWindow
from framework.memory.manager import MemoryManager
from framework.memory.working import MAX_CONVERSATION_LINES, WorkingState
from framework.outcome import ToolCallRecord
from framework.steps.act import CallContext, Toolbox, calls_in
from framework.steps.evaluate import evaluate, judge
from framework.steps.intent import Intent, detect_intent
from framework.steps.memorize import worth_extracting
from framework.steps.reason import conversation, system_prompt
from framework.steps.respond import ReasonAct
from framework.steps.retrieve import retrieve, task_goal
from framework.steps.skill import SkillExecutor, select_skill
from framework.steps.summarize import summarize
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


def run_turn(rt: Runtime, user_id: str | None, session_id: str, user_input: str) -> Turn:
    turn = Turn(user_id, session_id, user_input)
    clock = _Clock(turn)
    state = rt.memory.load_state(user_id, session_id)
    # Every tool call of the turn — the model's, a skill's, a hook's, a tool's own — is gated in
    # this context, recorded on the turn, audited and shown to the agent's hook.
    calls = CallContext(rt.toolbox, state, lambda record: _observe(rt, turn, record))
    with calls_in(calls):
        return _run(rt, turn, state, calls, clock)


def _run(rt: Runtime, turn: Turn, state: WorkingState, calls: CallContext, clock: _Clock) -> Turn:
    memory, model = rt.memory, rt.model
    user_id, user_input = turn.user_id, turn.user_input
    rt.hooks.on_turn_start(turn)

    procedures = memory.procedures  # skills and policies as the files say now, once per turn
    skills = [s for s in procedures.skills if s.tools]
    found = _attempt(
        lambda: detect_intent(model, user_input, skills),
        lambda exc: turn.fail(f"intent detection failed: {exc}"),
    )
    intent = Intent(goal=user_input, memory_query=user_input)  # else: the words themselves
    if found is not None:
        intent, usage = found
        turn.usage.add(usage)
    turn.intent = intent
    clock.lap("intent")

    turn.recollection = recalled = retrieve(memory, user_id, intent, user_input, procedures)  # 2
    state.goal = task_goal(intent) or state.goal
    clock.lap("retrieve")

    history = _fit_history(rt, turn, state, user_input)  # 3 ⇄ 4
    cycle = ReasonAct(
        model,
        rt.window,
        system_prompt(rt.instructions, recalled, state, rt.window),
        history,
        user_input,
        calls,
        rt.max_steps,
    )

    def unfinished(exc: FrameworkError) -> None:
        turn.fail(f"{type(exc).__name__}: {exc}")
        turn.answer = turn.answer or f"I could not finish this: {exc}"

    skill = select_skill(procedures.skills, intent)
    if skill is None:
        result = _attempt(cycle.run, unfinished)
        turn.answer = result.text if result is not None else turn.answer
    else:
        turn.skill = _attempt(lambda: SkillExecutor(skill).run(cycle, state), unfinished)
        if turn.skill is not None:
            turn.answer = turn.skill.text
            if turn.skill.error:
                turn.fail(
                    f"skill {turn.skill.skill} stopped at step {turn.skill.failed_step}: {turn.skill.error}"
                )
    turn.messages = cycle.messages
    turn.usage.add(cycle.usage)
    if turn.tool_calls:  # what ran is on record before anything else can fail: the gate needs it
        memory.save_state(state)
    clock.lap("reason_act")

    if rt.judge_outcomes and not intent.trivial and turn.error is None:  # 5
        turn.outcome, usage = judge(model, intent.goal, turn.tool_calls, turn.answer)
        turn.usage.add(usage)
    else:
        turn.outcome = evaluate(turn.tool_calls, turn.answer, turn.error)
    clock.lap("evaluate")

    works = [_attempt(lambda: memory.retry_deferred(model, user_id), lambda exc: None)]  # 6: kept work first
    if worth_extracting(intent, turn.outcome):
        exchange, shown = turn.exchange(), recalled.shown()

        def deferred(exc: FrameworkError) -> None:  # nothing is written from output we could not read,
            turn.fail(f"memory extraction failed: {exc}")  # and nothing is dropped: it is kept to retry
            memory.defer(user_id, turn.session_id, exchange, shown, str(exc))

        works.append(_attempt(lambda: memory.memorize(model, user_id, state, shown, exchange), deferred))
    for work in filter(None, works):
        turn.memory_ops += work.ops
        turn.memory_usage.add(work.usage)
        turn.usage.add(work.usage)
    turn.memory_ops += memory.learn(
        user_id, [r.memory.id for r in recalled.relevant if r.memory.id], turn.outcome
    )
    state.add_exchange(user_input, turn.answer, [c.result for c in turn.tool_calls])
    memory.save_state(state)
    clock.lap("memory_ops")
    _log(turn)
    rt.hooks.on_turn_end(turn)
    return turn


def _attempt(step: Callable[[], T], failed: Callable[[FrameworkError], None]) -> T | None:
    """The loop's one error policy. A missing or unusable model configuration stops the turn (the
    user must fix it); any other failure the framework raises on purpose is handed to `failed`
    (which records it on the turn) and the turn goes on without that step's result."""
    try:
        return step()
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


def _fit_history(rt: Runtime, turn: Turn, state: WorkingState, user_input: str) -> list[Message]:
    """The conversation so far, within the window: lines about to leave it are folded into the
    rolling summary first (a failed summary is a warning: the lines still leave the window)."""
    history = conversation(state)
    assert turn.recollection is not None
    system = system_prompt(rt.instructions, turn.recollection, state, rt.window)
    fold = rt.window.to_fold(system, history, [Message("user", user_input)], MAX_CONVERSATION_LINES)
    if not fold:
        return history
    folded = _attempt(
        lambda: summarize(rt.model, state.summary, state.conversation[:fold]),
        lambda exc: turn.warnings.append(f"summary not updated: {exc}"),
    )
    if folded is not None:
        state.summary, usage = folded
        turn.usage.add(usage)
        state.folded_lines += fold
        del state.conversation[:fold], history[:fold]
    return history


def _log(turn: Turn) -> None:
    """What happened, without what was said: ids, kinds and the framework's own reasons, users by
    reference (logs are kept longer and read by more people than the store; deleting a user must
    not leave them behind)."""
    who = f"user={user_ref(turn.user_id)} session={turn.session_id}"
    if turn.error:
        logger.warning("%s turn failed in part: %s", who, headline(turn.error))
    for op in turn.memory_ops:
        if op.kind != "adjust":
            logger.info("%s memory %s #%s (%s)", who, op.kind, op.memory_id, authored_reason(op.reason))


class _Clock:
    def __init__(self, turn: Turn) -> None:
        self.turn, self.last = turn, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.turn.timings_ms[name] = (now - self.last) * 1000
        self.last = now
