"""Step 6, after the answer: the turn's memory work, queued durably when the answer is given and
applied by the background worker (framework.memory.worker), in order per user.

`memory_job` is what the loop stores (redacted, plain data); `apply_job` is what the worker runs:
understand the user's message (the intent call the answer never waited for), judge the outcome
when the agent asks for it, extract and curate what the turn taught (at most one extraction call:
only when the user stated, corrected or retracted something, or the outcome failed), credit or
blame the memories that guided it, set the session's task, and fold old conversation lines into
the rolling summary. Nothing is written from output that could not be read: a failed call fails
the job, which is kept and tried again before the same user's next work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from framework.errors import FrameworkError, ModelNotConfigured, ScriptError
from framework.llm.base import Model
from framework.llm.messages import Usage
from framework.llm.traced import traced
from framework.log import authored_reason, logger, user_ref
from framework.memory.jobs import exchange_of, exchange_payload
from framework.memory.longterm import MemoryJob
from framework.memory.manager import MemoryManager
from framework.memory.operations import MemoryOp
from framework.memory.working import WorkingState
from framework.outcome import Exchange, Outcome
from framework.steps.evaluate import judge
from framework.steps.intent import ACKNOWLEDGED, Intent, detect_intent
from framework.steps.summarize import summarize
from framework.telemetry import NULL, Span, content_traced


def task_goal(intent: Intent) -> str | None:
    """The session's task, for working memory: set by requests that do something, not by chat."""
    if intent.trivial or intent.task_type in ("chat", "question"):
        return None
    return intent.goal


@dataclass
class JobResult:
    """What one turn's memory work did, for its `Turn`."""

    intent: Intent
    ops: list[MemoryOp] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)  # the memory operations' calls
    intent_usage: Usage = field(default_factory=Usage)  # the intent call
    outcome: Outcome | None = None  # set when the model judged it
    warnings: list[str] = field(default_factory=list)


def worth_extracting(intent: Intent, outcome: Outcome) -> bool:
    if intent.trivial:
        return False
    return intent.remember or intent.forget or intent.correction or outcome.status in ("failure", "partial")


def memory_job(
    exchange: Exchange,
    state: WorkingState,
    shown_ids: list[int],
    relevant_ids: list[int],
    *,
    lines_before: int,
    fold: int,
    judge_outcome: bool,
    acknowledged: bool = False,
) -> dict[str, Any]:
    """The job's payload, taken after `state.add_exchange`: the exchange as working memory keeps it
    (redacted there with the conversation's context, so a secret split over turns is masked too)."""
    payload = exchange_payload(
        exchange,
        shown_ids,
        relevant_ids=relevant_ids,
        lines_before=lines_before,
        fold=fold,
        judge=judge_outcome,
    )
    if acknowledged:  # nothing to understand or learn: only the fold
        payload["intent"] = ACKNOWLEDGED.model_dump()
    said, answered = state.conversation[-2:]
    payload["user_input"], payload["answer"] = said.content, answered.content
    return payload


@dataclass(frozen=True)
class Said:
    """A turn as it was said, handed to its job in the process that answered, never stored: the
    exchange and the user's lines before it as working memory held them then (before this turn
    masked a secret it completed). The write policy reads candidates against these; a job
    replayed after a restart has only its payload's redacted copy, in which no secret is left to
    repeat."""

    exchange: Exchange
    earlier: list[str]
    trace: Span = NULL  # the turn's span: the job's is traced under it


def apply_job(memory: MemoryManager, model: Model, job: MemoryJob, said: Said | None = None) -> JobResult:
    """Run one queued job. Raises the model's error when a call fails (the job is kept). Traced as
    a `framework.memory_work` span (under its turn's, when it runs in the process that answered),
    its LLM calls under it and each memory operation as an event."""
    span = (said.trace if said is not None else NULL).child(
        "framework.memory_work", {"framework.memory_job": job.id, "framework.user": user_ref(job.user_id)}
    )
    try:
        result = _apply(memory, traced(model, span), job, said)
    except BaseException as exc:
        span.fail(exc)
        span.end()
        raise
    for op in result.ops:
        span.event(
            f"memory.{op.kind}",
            {
                "framework.memory_id": op.memory_id,
                "framework.reason": authored_reason(op.reason),
                "framework.content": op.content if content_traced() else None,
            },
        )
    span.update({"framework.intent.trivial": result.intent.trivial, "framework.memory_ops": len(result.ops)})
    span.end()
    return result


def _apply(memory: MemoryManager, model: Model, job: MemoryJob, said: Said | None) -> JobResult:
    payload = job.payload
    exchange, shown_ids = exchange_of(payload)
    exchange = said.exchange if said is not None else exchange
    user_id = job.user_id
    state = memory.load_state(user_id, job.session_id)
    if payload.get("intent"):  # understood in an earlier attempt: not asked again
        intent, intent_usage = Intent.model_validate(payload["intent"]), Usage()
    else:
        with _stage("intent detection"):
            intent, intent_usage = detect_intent(model, exchange.user_input)
        payload["intent"] = intent.model_dump()  # kept with the job if a later stage fails
    result = JobResult(intent, intent_usage=intent_usage)
    if intent.trivial:  # an acknowledgement's job only folds the conversation
        fold_summary(model, state, int(payload.get("fold", 0)), result)
        memory.save_state(state)
        return result
    exchange = replace(exchange, forget_asked=intent.forget or intent.correction)
    if payload.get("judge") and not intent.trivial:
        with _stage("outcome judgment"):
            result.outcome, usage = judge(model, intent.goal, exchange.tool_calls, exchange.answer)
        exchange = replace(exchange, outcome=result.outcome)
        result.usage.add(usage)
    if worth_extracting(intent, exchange.outcome):
        before = state.conversation[: payload.get("lines_before", len(state.conversation))]
        earlier = (
            said.earlier if said is not None else [line.content for line in before if line.role == "user"]
        )
        # what the turn showed, and what the intent's query finds (a correction may name a memory
        # the user's words did not recall)
        shown = memory.long_term.get_many(user_id, shown_ids)
        shown += memory.related(user_id, intent.memory_query, exclude={m.id for m in shown})
        with _stage("memory extraction"):
            work = memory.memorize(model, user_id, state, shown, exchange, earlier=earlier[-6:])
        result.ops += work.ops
        result.usage.add(work.usage)
    result.ops += memory.learn(user_id, list(payload.get("relevant_ids", [])), exchange.outcome)
    state.goal = task_goal(intent) or state.goal
    fold_summary(model, state, int(payload.get("fold", 0)), result)
    memory.save_state(state)
    who = f"user={user_ref(user_id)} session={job.session_id}"
    for op in result.ops:
        if op.kind != "adjust":
            logger.info("%s memory %s #%s (%s)", who, op.kind, op.memory_id, authored_reason(op.reason))
    return result


@contextmanager
def _stage(name: str) -> Iterator[None]:
    """A failed call of this stage, said as such ("memory extraction failed: ...")."""
    try:
        yield
    except (ModelNotConfigured, ScriptError):
        raise
    except FrameworkError as exc:
        raise type(exc)(f"{name} failed: {exc}") from exc


def fold_summary(model: Model, state: WorkingState, fold: int, result: JobResult) -> None:
    """Fold the oldest `fold` lines into the rolling summary (a failed summary is a warning: the
    lines still leave, as they have already left the prompt)."""
    if fold <= 0:
        return
    lines = state.conversation[:fold]
    try:
        state.summary, usage = summarize(model, state.summary, lines)
        result.usage.add(usage)
    except FrameworkError as exc:
        result.warnings.append(f"summary not updated: {exc}")
    state.folded_lines += len(lines)
    del state.conversation[: len(lines)]
