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
from framework.memory.sensitive import redact
from framework.memory.working import MAX_CONVERSATION_LINES, ConversationLine
from framework.steps.act import act
from framework.steps.evaluate import evaluate, judge
from framework.steps.intent import Intent, detect_intent
from framework.steps.memorize import memorize, worth_extracting
from framework.steps.reason import build_prompt, system_prompt
from framework.turn import Turn

if TYPE_CHECKING:
    from framework.session import Session


def run_turn(session: Session, user_input: str) -> Turn:
    agent, memory, model = session.agent, session.memory, session.model
    turn = Turn(session.user_id, session.session_id, user_input)
    clock = _Clock(turn)
    agent.on_turn_start(turn)

    try:  # 1
        intent, usage = detect_intent(model, user_input)
        turn.usage.add(usage)
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:  # carry on with the words themselves as the query
        intent = Intent(goal=user_input, memory_query=user_input)
        turn.error = f"intent detection failed: {exc}"
    turn.intent = intent
    clock.lap("intent")

    query = " ".join(filter(None, [intent.memory_query, user_input]))  # 2
    recalled = memory.recall(session.user_id, session.session_id, query, (intent.task_type,))
    turn.recollection, state = recalled, recalled.state
    clock.lap("retrieve")

    system = system_prompt(agent.instructions, recalled)  # 3 ⇄ 4
    current = [Message("user", user_input)]
    schemas = [spec.schema() for spec in session.tools.values()] or None
    try:
        for _step in range(session.max_steps):
            window = build_prompt(session.window, system, session.history, current)
            turn.messages = window.messages
            reply = model.complete(window.messages, schemas)
            turn.usage.add(reply.usage)
            if not reply.tool_calls:
                turn.answer = reply.text or ""
                break
            current.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
            for call in reply.tool_calls:
                record = act(call, session.tools, session.gate, state, session.approve, session.user_id)
                turn.tool_calls.append(record)
                agent.on_tool_call(record)
                current.append(Message("tool", record.result, tool_call_id=call.id, name=call.name))
        else:
            raise StepLimitExceeded(
                f"stopped after {session.max_steps} reasoning steps without a final answer"
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
    session.history += [Message("user", redact(user_input)), Message("assistant", redact(turn.answer))]
    del session.history[:-MAX_CONVERSATION_LINES]  # as much as working memory keeps
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
