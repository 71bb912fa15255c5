"""The control loop: the only place the steps of a turn are sequenced.

    1 intent → 2 retrieve → 3 reason ⇄ 4 act (every call gated) → 5 evaluate → 6 memory ops

Memory is written after the outcome, never before: store results, not intentions.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from framework.errors import FrameworkError, ModelNotConfigured, StepLimitExceeded
from framework.llm.messages import Message
from framework.log import logger
from framework.sensitive import redact
from framework.memory.working import MAX_CONVERSATION_LINES, ConversationLine
from framework.steps.act import act
from framework.steps.evaluate import evaluate, judge
from framework.steps.intent import Intent, detect_intent
from framework.steps.memorize import memorize, worth_extracting
from framework.steps.reason import build_prompt, conversation, system_prompt
from framework.steps.skill import CycleResult, SkillExecutor, select_skill
from framework.steps.summarize import summarize
from framework.turn import Turn

if TYPE_CHECKING:
    from framework.session import Session


def run_turn(session: Session, user_input: str) -> Turn:
    agent, memory, model = session.agent, session.memory, session.model
    turn = Turn(session.user_id, session.session_id, user_input)
    clock = _Clock(turn)
    agent.on_turn_start(turn)

    procedures = memory.procedures  # skills and policies as the files say now, once per turn
    try:  # 1
        intent, usage = detect_intent(model, user_input, [s for s in procedures.skills if s.tools])
        turn.usage.add(usage)
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:  # carry on with the words themselves as the query
        intent = Intent(goal=user_input, memory_query=user_input)
        turn.error = f"intent detection failed: {exc}"
    turn.intent = intent
    clock.lap("intent")

    query = " ".join(filter(None, [intent.memory_query, user_input]))  # 2
    recalled = memory.recall(session.user_id, session.session_id, query, (intent.task_type,), procedures)
    turn.recollection, state = recalled, recalled.state
    if not intent.trivial and intent.task_type not in ("chat", "question"):
        state.goal = intent.goal  # the session's task, for working memory
    clock.lap("retrieve")

    system = system_prompt(agent.instructions, recalled, state, session.window)  # 3 ⇄ 4
    current = [Message("user", user_input)]
    history = conversation(state)
    fold = session.window.to_fold(system, history, current, MAX_CONVERSATION_LINES)
    if fold:  # the oldest lines leave the window: fold them into the rolling summary first
        try:
            state.summary = summarize(model, state.summary, state.conversation[:fold], turn.usage)
            state.folded_lines += fold
            del state.conversation[:fold], history[:fold]
            system = system_prompt(agent.instructions, recalled, state, session.window)
        except ModelNotConfigured:
            raise
        except FrameworkError as exc:  # the window still evicts them; they are just not summarised
            turn.warnings.append(f"summary not updated: {exc}")

    def cycle(instruction: str | None = None) -> CycleResult:
        """Reason ⇄ act until the model answers in text; every tool call goes through the gate."""
        if instruction is not None:
            current.append(Message("user", instruction))
        first = len(turn.tool_calls)
        for _step in range(session.max_steps):
            window = build_prompt(session.window, system, history, current)
            turn.messages = window.messages
            reply = model.complete(window.messages, session.schemas)
            turn.usage.add(reply.usage)
            if not reply.tool_calls:
                current.append(Message("assistant", reply.text or ""))
                return CycleResult(reply.text or "", turn.tool_calls[first:])
            current.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
            for call in reply.tool_calls:
                record = act(call, session.tools, session.gate, state, session.approve, session.user_id)
                turn.tool_calls.append(record)
                memory.audit_gate(session.user_id, record)
                agent.on_tool_call(record)
                current.append(Message("tool", record.result, tool_call_id=call.id, name=call.name))
        raise StepLimitExceeded(f"stopped after {session.max_steps} reasoning steps without a final answer")

    skill = select_skill(procedures.skills, intent)
    try:
        if skill is None:
            turn.answer = cycle().text
        else:
            turn.skill = SkillExecutor(skill).run(cycle, state)
            turn.answer = turn.skill.text
            if turn.skill.error:
                turn.error = (
                    f"skill {turn.skill.skill} stopped at step {turn.skill.failed_step}: {turn.skill.error}"
                )
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
        turn.answer = turn.answer or f"I could not finish this: {exc}"
    clock.lap("reason_act")

    if agent.judge_outcomes and not intent.trivial and turn.error is None:  # 5
        turn.outcome, usage = judge(model, intent.goal, turn.tool_calls, turn.answer)
        turn.usage.add(usage)
    else:
        turn.outcome = evaluate(turn.tool_calls, turn.answer, turn.error)
    clock.lap("evaluate")

    if worth_extracting(intent, turn.outcome):  # 6
        try:
            turn.memory_ops += memorize(model, memory, session.user_id, state, recalled, turn)
        except ModelNotConfigured:
            raise
        except FrameworkError as exc:  # nothing is written from output we could not read
            turn.error = (turn.error + "; " if turn.error else "") + f"memory extraction failed: {exc}"
        turn.usage.add(turn.memory_usage)
    turn.memory_ops += memory.learn(
        session.user_id, [r.memory.id for r in recalled.relevant if r.memory.id], turn.outcome
    )
    state.conversation += [
        ConversationLine(role="user", content=redact(user_input)),
        ConversationLine(role="assistant", content=redact(turn.answer)),
    ]
    memory.save_state(state)
    clock.lap("memory_ops")
    _log(turn)
    agent.on_turn_end(turn)
    return turn


def _log(turn: Turn) -> None:
    who = f"user={turn.user_id or '-'} session={turn.session_id}"
    if turn.error:
        logger.warning("%s turn failed in part: %s", who, redact(turn.error))
    for op in turn.memory_ops:
        if op.kind != "adjust":
            logger.info(
                "%s memory %s #%s: %s (%s)", who, op.kind, op.memory_id, redact(op.content), op.reason
            )


class _Clock:
    def __init__(self, turn: Turn) -> None:
        self.turn, self.last = turn, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.turn.timings_ms[name] = (now - self.last) * 1000
        self.last = now
