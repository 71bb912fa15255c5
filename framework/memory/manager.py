"""MemoryManager: owns the four layers and is the only thing the loop talks to about memory.

Step 2 is `recall` (done by framework.memory.recall; with `load_state` for the session's working
state), step 6 is `memorize` (one call: extraction, curation, writes), then `learn` and
`save_state`. The user's rights
(`export`, `delete_user`), approvals and merges are here too, so the CLI needs nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from framework.config import Settings
from framework.embeddings import Embedder, resolve_embedder
from framework.errors import FrameworkError
from framework.llm.base import Model
from framework.llm.messages import Usage
from framework.log import headline, logger, user_ref
from framework.memory.context import ContextWindow, TokenCounter
from framework.memory.governance import (
    Consent,
    Curator,
    Extraction,
    MemoryCandidate,
    WritePolicy,
    WriteQueue,
)
from framework.memory.governance.curation import Judge
from framework.memory.governance.extraction import comparer, extract
from framework.memory.governance.provenance import Attribution, attribute
from framework.memory.jobs import MemoryJobs
from framework.memory.longterm import (
    LongTermMemory,
    MemoryEntry,
    MemorySource,
    MemoryType,
    RankWeights,
    migrate,
    open_engine,
)
from framework.memory.longterm.lifecycle import CycleReport, ForgettingCycle, ForgettingPolicy
from framework.memory.longterm.records import MemoryJob
from framework.memory.operations import MemoryOp
from framework.memory.procedural import ProceduralMemory, Procedures
from framework.memory.recall import RECALL_MIN_CONFIDENCE, Recall, checked_min_confidence
from framework.memory.recollection import Recollection
from framework.memory.rewrite import QueryRewriter, Rewrite
from framework.memory.worker import MemoryWorker, NotApplied
from framework.memory.working import WorkingState, WorkingStore, open_working_store
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.sensitive import redact, sensitive_values
from framework.telemetry import NULL, Span

SUCCESS_BONUS = 0.1
FAILURE_PENALTY = -0.2


@dataclass
class MemoryWork:
    """Step 6's result: what memory did, and the LLM usage it cost."""

    ops: list[MemoryOp] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class MemoryManager:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | str | None = None,
        skills_dir: Path | None = None,
        policies_dir: Path | None = None,
        write_policy: WritePolicy | None = None,
        weights: RankWeights | None = None,
        recall_limit: int = 8,
        recall_min_confidence: float = RECALL_MIN_CONFIDENCE,
        forgetting: ForgettingPolicy | None = None,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        min_confidence = checked_min_confidence(recall_min_confidence)
        self.forgetting = forgetting or ForgettingPolicy()
        self.settings = settings
        self.embedder = resolve_embedder(embedder if embedder is not None else settings.embedder)
        self.engine = open_engine(settings.database_url)
        migrate(self.engine, self.embedder.name, self.embedder.dim)
        self.long_term = LongTermMemory(self.engine, weights or RankWeights(**settings.recall_weights))
        self.working: WorkingStore = open_working_store(settings)
        self.procedural = ProceduralMemory(skills_dir, policies_dir)  # hot-reloaded on change
        try:  # a skill or policy that does not load at start-up stops the agent: never run unchecked
            self.procedural.require_loadable()
        except FrameworkError:
            self.working.close()
            self.engine.dispose()
            raise
        self.write_policy = write_policy or WritePolicy()
        self.curator = Curator(self.long_term, self.embedder, self.write_policy)
        self.queue = WriteQueue(self.engine)
        self.jobs = MemoryJobs(self.engine)
        self.consent = Consent(self.engine)
        self.recaller = Recall(self.long_term, self.embedder, recall_limit, min_confidence, rewriter)
        self.worker: MemoryWorker | None = None  # start_work: the background worker, if any
        self._apply: Callable[[MemoryJob, Any], Any] = _not_started
        self._live: dict[int, Any] = {}  # job id -> what the job may use beyond its payload

    @property
    def recall_limit(self) -> int:
        return self.recaller.limit

    @property
    def recall_min_confidence(self) -> float:
        return self.recaller.min_confidence

    @property
    def procedures(self) -> Procedures:
        """Skills and policies as the files say now (re-read only when a file changed)."""
        return self.procedural.current()

    def context_window(self, model: object) -> ContextWindow:
        """The prompt budget: the context_tokens setting when it was set, else the model's real
        input size (less room for the reply), else the default setting."""
        budget = self.settings.context_tokens
        window = getattr(model, "context_window", None)
        if self.settings.sources.get("context_tokens") == "default" and isinstance(window, int):
            budget = max(1_000, window - self.settings.llm_max_tokens)
        return ContextWindow(budget, TokenCounter(getattr(model, "name", None)))

    # --- step 2: retrieve -------------------------------------------------------------------
    def load_state(self, user_id: str | None, session_id: str) -> WorkingState:
        """The session's working state (a new one when there is none, or it expired)."""
        return self.working.load(user_id, session_id)

    def recall(
        self,
        user_id: str | None,
        query: str,
        task_tags: tuple[str, ...] = (),
        procedures: Procedures | None = None,
        span: Span = NULL,
        *,
        as_of: datetime | None = None,
        rewrite: bool = True,
        hints: Rewrite | None = None,
    ) -> Recollection:
        """Step 2: what memory contributes to a turn about `query` (framework.memory.recall);
        `rewrite=False`: without the query rewrite, if the agent asks for one; `hints`: the
        rewrite's, already asked."""
        procedures = procedures or self.procedures  # the turn's one load: skills and policies agree
        return self.recaller.recall(
            user_id, query, task_tags, procedures, span, as_of=as_of, rewrite=rewrite, hints=hints
        )

    @property
    def rewriter(self) -> QueryRewriter | None:
        """The query rewrite recall asks for first, if the agent has one."""
        return self.recaller.rewriter

    def past_vectors(
        self, user_id: str, as_of: datetime, types: Sequence[str] | None = None
    ) -> dict[int, list[float]]:
        """The vectors of the memories active at `as_of` and not now (Recall.past_vectors)."""
        return self.recaller.past_vectors(user_id, as_of, types)

    def related(self, user_id: str, query: str, exclude: set[int | None] | None = None) -> list[MemoryEntry]:
        """Active facts and outcomes ranked for `query`, not counted as a recall (Recall.related)."""
        return self.recaller.related(user_id, query, exclude)

    def visible(
        self, user_id: str | None, shown: list[MemoryEntry], state: WorkingState, recent: int = 5
    ) -> list[MemoryEntry]:
        """The memories a turn may refer to: what it was shown (recalled), and what this session
        wrote last (so "don't remember that" can name what was just stored)."""
        known = list(shown)
        if user_id is None:
            return known
        ids = {m.id for m in known}
        recent_ids = [i for i in state.written_ids[-recent:] if i not in ids]
        known += [m for m in self.long_term.get_many(user_id, recent_ids) if m.status == "active"]
        return known

    # --- step 6: memory operations -------------------------------------------------------------
    def memorize(
        self,
        model: Model,
        user_id: str | None,
        state: WorkingState,
        shown: list[MemoryEntry],
        exchange: Exchange,
        earlier: list[str] | None = None,
    ) -> MemoryWork:
        """Extract (one call) what the turn taught, add what a judged failure taught, then curate
        and write; the comparison call is made by the curator only if it needs one. `shown` are
        the memories the turn showed the model. Raises the model's error when the extraction
        fails: nothing is written from output we could not read (the job is kept). `earlier` are
        the user's lines before this exchange (default: the session's last ones)."""
        work = MemoryWork()
        known = self.visible(user_id, shown, state)
        extraction, usage = extract(model, exchange, known)
        work.usage.add(usage)
        outcome = exchange.outcome
        if outcome.judged_by == "model" and outcome.status == "failure":
            extraction.memories += [
                MemoryCandidate(
                    content=lesson,
                    memory_type=MemoryType.outcome,
                    confidence=0.8,
                    source=MemorySource.learned,
                )
                for lesson in outcome.failures
            ]
        # Secret values seen this turn: a candidate restating one in other words is rejected too.
        secrets = sensitive_values(exchange.user_input)
        for call in exchange.tool_calls:
            secrets |= sensitive_values(call.result)
        visible = {m.id for m in known if m.id is not None}
        if earlier is None:
            earlier = [line.content for line in state.conversation if line.role == "user"][-6:]
        said_by = [attribute(c, exchange, known, state.session_id, earlier) for c in extraction.memories]
        work.ops = self.apply(
            user_id,
            state,
            extraction,
            visible,
            secrets=secrets,
            judge=comparer(model, work.usage),
            attributions=said_by,
            forget_asked=exchange.forget_asked,
            context=[*earlier, exchange.user_input],
            said_at=exchange.said_at,
        )
        return work

    # --- step 6 runs after the answer: the durable queue and its worker --------------------------
    def start_work(
        self, apply: Callable[[MemoryJob, Any], Any], background: bool = True, threads: int = 4
    ) -> None:
        """Apply queued memory work with `apply` (framework.steps.memorize.apply_job): in background
        threads, or in the turn's own thread (`background=False`: a turn returns once its memory is
        applied). Work left queued by an earlier run of any process that is gone is started now."""
        self._apply = apply
        if background:
            self.worker = MemoryWorker(self._run_user, threads)
            for user_id in self.jobs.users_waiting():
                self.worker.submit(user_id)

    def submit(
        self, user_id: str, session_id: str, payload: dict[str, Any], live: Any = None
    ) -> tuple[int, Future[Any]]:
        """Store a turn's memory work (durably, before this returns) and have it applied: the job's
        id, and the Future of its result. `live` is what this process may hand the job beyond its
        stored payload (the exchange as it was said, never stored): a job replayed after a restart
        has only the payload."""
        job_id = self.jobs.enqueue(user_id, session_id, payload)
        if live is not None:
            self._live[job_id] = live
        if self.worker is not None:
            return job_id, self.worker.submit(user_id, job_id)
        future: Future[Any] = Future()
        results = self._run_user(user_id)
        result = results.get(
            job_id, NotApplied("memory work kept in the store to retry: an earlier job of this user failed")
        )
        if isinstance(result, BaseException) and (
            isinstance(result, AssertionError) or not isinstance(result, FrameworkError)
        ):
            raise result  # in the turn's thread, a bug or a test double's complaint surfaces here
        (future.set_exception if isinstance(result, BaseException) else future.set_result)(result)
        return job_id, future

    def settle(self, user_id: str | None, timeout: float | None = None) -> bool:
        """Wait (bounded by the memory_wait_s setting) until the user's queued work is applied."""
        if self.worker is None or user_id is None:
            return True
        return self.worker.settle(user_id, self.settings.memory_wait_s if timeout is None else timeout)

    def settle_everywhere(self, user_id: str, timeout: float | None = None) -> bool:
        """`settle`, then wait (bounded, polling the store) until no process has work of the user
        queued or running: for a service whose workers share the store, what the user's last turn
        taught is applied whichever worker answered it. False when the wait ran out."""
        limit = self.settings.memory_wait_s if timeout is None else timeout
        deadline = time.monotonic() + limit
        if not self.settle(user_id, limit):
            return False
        pause = 0.005
        while self.jobs.outstanding(user_id):
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued job of this process is applied."""
        return True if self.worker is None else self.worker.flush(timeout)

    def _run_user(self, user_id: str) -> dict[int, Any]:
        """Apply the user's waiting jobs, oldest first; stop at the first that fails (it is kept,
        and the ones after it wait their turn). Job id -> result, or the exception."""
        results: dict[int, Any] = {}
        while (job := self.jobs.claim_next(user_id)) is not None:
            job_id = job.id or 0
            try:
                results[job_id] = self._apply(job, self._live.pop(job_id, None))
            except BaseException as exc:
                logger.warning(
                    "user=%s memory job #%s failed (kept to retry): %s",
                    user_ref(user_id),
                    job_id,
                    headline(str(exc)),
                )
                why = str(exc) if isinstance(exc, FrameworkError) else f"{type(exc).__name__}: {exc}"
                self.jobs.finish(job_id, why, payload=job.payload)
                results[job_id] = exc
                if not isinstance(exc, Exception):
                    raise
                break
            self.jobs.finish(job_id)
        return results

    def forget_requested(
        self,
        user_id: str | None,
        extraction: Extraction,
        visible_ids: set[int],
        asked: bool = True,
        said_at: datetime | None = None,
    ) -> list[MemoryOp]:
        """Honour "forget that": only when the user's own words asked (`asked`: text from a tool
        or a memory cannot make memory forget), and only memories shown this turn may be named.
        `said_at`: when the asking words were said (recall as_of: active until then)."""
        ops: list[MemoryOp] = []
        for request in extraction.forget:
            if not asked:
                ops.append(
                    MemoryOp(
                        "reject",
                        request.memory_id,
                        "",
                        "provenance: a forget request the user did not make (it came from other text)",
                    )
                )
                continue
            if user_id is None or request.memory_id not in visible_ids:
                ops.append(
                    MemoryOp(
                        "reject", request.memory_id, "", "forget request for a memory this turn did not show"
                    )
                )
                continue
            reason = redact(request.reason)
            if self.long_term.forget(
                user_id, request.memory_id, actor="user", reason=reason, said_at=said_at
            ):
                ops.append(MemoryOp("forget", request.memory_id, "", reason))
        return ops

    def apply(
        self,
        user_id: str | None,
        state: WorkingState,
        extraction: Extraction,
        visible_ids: set[int],
        *,
        secrets: set[str] | None = None,
        judge: Judge | None = None,
        actor: str = "agent",
        attributions: list[Attribution] | None = None,
        forget_asked: bool = True,
        context: Sequence[str] = (),
        said_at: datetime | None = None,
    ) -> list[MemoryOp]:
        """Forget what was asked, then curate the candidates (provenance, write policy, dedup,
        refine, contradiction) and write them (as of `said_at`, when the words were said; default
        now), or park them for approval when the policy says so."""
        ops = self.forget_requested(user_id, extraction, visible_ids, forget_asked, said_at)
        decisions = self.curator.decide(
            user_id,
            state,
            extraction,
            visible_ids,
            secrets or set(),
            judge,
            opted_out=self.consent.opted_out(user_id),
            attributions=attributions,
            context=context,
        )
        if self.write_policy.require_approval and user_id is not None:
            waiting = [d for d in decisions if d.action != "reject"]
            ids = self.queue.park(user_id, state.session_id, waiting)
            ops += [
                MemoryOp("pending", pid, d.content, f"awaiting approval: {d.reason}")
                for pid, d in zip(ids, waiting, strict=True)
            ]
            decisions = [d for d in decisions if d.action == "reject"]
        return ops + self.curator.commit(user_id, state, decisions, actor, said_at=said_at)

    def approve(self, user_id: str, pending_id: int, approved: bool = True) -> list[MemoryOp]:
        """Carry out (or drop) a parked write; returns what was done."""
        decision = self.queue.take(
            user_id,
            pending_id,
            approved=approved,
            reason="approved by a human" if approved else "rejected by a human",
        )
        if decision is None:
            raise KeyError(f"user {user_id!r} has no pending write #{pending_id}")
        if not approved:
            return [MemoryOp("reject", None, decision.content, "rejected by a human")]
        state = self.working.load(user_id, "approvals")
        decision.origin = f"approval:{pending_id}"  # a human's yes is what the memory stands on
        return self.curator.commit(user_id, state, [decision], actor="user")

    def merge(
        self, user_id: str, ids: list[int], content: str, reason: str = "merged on request"
    ) -> MemoryOp:
        """Fold related memories into one statement: a new merged memory supersedes each of them."""
        entries = self.long_term.get_many(user_id, ids)
        active = [e for e in entries if e.status == "active"]
        if len(active) != len(set(ids)) or len(active) < 2:
            raise ValueError(
                f"merge needs at least two active memories of user {user_id!r}; got {sorted(ids)}"
            )
        first = active[0]
        merged = MemoryEntry(
            user_id=user_id,
            content=content,
            memory_type=first.memory_type,
            confidence=max(e.confidence for e in active),
            source=MemorySource.merged.value,
            tags=sorted({t for e in active for t in e.tags or []}),
            embedder=self.embedder.name,
        )
        new = self.long_term.add(
            merged,
            self.embedder.embed([content])[0],
            actor="user",
            reason=f"{reason}: #{', #'.join(str(e.id) for e in active)}",
        )
        for e in active:
            assert e.id is not None and new.id is not None
            self.long_term.retire(user_id, e.id, new.id, actor="user", reason=f"merged into #{new.id}")
        return MemoryOp("supersede", new.id, content, f"merges #{', #'.join(str(e.id) for e in active)}")

    def learn(self, user_id: str | None, used_ids: list[int], outcome: Outcome) -> list[MemoryOp]:
        """Memories that guided a success gain confidence; a failure costs them more.
        `used_ids` are the memories recalled by relevance (preferences and constraints, included
        in every turn, are not credited with every turn's outcome)."""
        if user_id is None or outcome.status not in ("success", "failure") or not used_ids:
            return []
        delta = SUCCESS_BONUS if outcome.status == "success" else FAILURE_PENALTY
        changed = self.long_term.adjust(
            user_id, used_ids, delta, operation="adjust", reason=f"guided a {outcome.status}"
        )
        return [
            MemoryOp("adjust", mid, "", f"{delta:+.1f} after {outcome.status} -> {value:.2f}")
            for mid, value in changed.items()
        ]

    def remember(
        self,
        user_id: str,
        content: str,
        memory_type: str = "fact",
        confidence: float = 0.9,
        tags: list[str] | None = None,
        origin: str | None = None,
    ) -> MemoryOp:
        """Write one memory directly (an application's explicit 'remember'), through the policy.
        `origin` is recorded as where its words came from (e.g. "mcp:<client>"); by default the
        user's, like any direct write."""
        state = WorkingState(user_id=user_id, session_id="api")
        candidate = MemoryCandidate(
            content=content,
            memory_type=MemoryType(memory_type),
            confidence=confidence,
            source=MemorySource.explicit,
            tags=tags or [],
        )
        ops = self.apply(
            user_id,
            state,
            Extraction(memories=[candidate]),
            set(),
            secrets=sensitive_values(content),
            actor="user",
            attributions=[Attribution(True, origin)] if origin is not None else None,
        )
        return ops[0]

    def audit_gate(self, user_id: str | None, record: ToolCallRecord) -> None:
        """Record which policy versions decided a tool call (only calls a policy spoke on)."""
        if user_id is not None and record.policies:
            self.long_term.audit(
                user_id,
                "gate",
                f"{record.name}: {record.verdict}",
                {
                    "tool": record.name,
                    "verdict": record.verdict,
                    "approved": record.approved,
                    "policies": record.policies,
                },
                actor="runtime",
            )

    def save_state(self, state: WorkingState) -> None:
        self.working.save(state)

    # --- the user's rights ---------------------------------------------------------------------
    def export(self, user_id: str) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "memories": [m.model_dump(mode="json") for m in self.long_term.all_entries(user_id)],
            "audit": [a.model_dump(mode="json") for a in self.long_term.history(user_id)],
        }

    def delete_user(
        self, user_id: str, *, actor: str = "user", reason: str = "erasure requested"
    ) -> dict[str, int]:
        """Right to erasure, everywhere memory keeps a user: long-term memories and their indexes,
        pending writes, settings and the audit's text (LongTermMemory.delete_user), then every
        working-memory session (state, conversation, rolling summary). Returns what was deleted."""
        self.settle(user_id)  # work queued for them lands first, then goes with the rest
        counts = self.long_term.delete_user(user_id, actor=actor, reason=reason)
        counts["memory_jobs"] = self.jobs.delete_user(user_id)
        counts["sessions"] = self.working.delete_user(user_id)
        return counts

    def forget_cycle(self, user_id: str | None = None, *, dry_run: bool = False) -> CycleReport:
        """One forgetting cycle (expire, decay, prune below the floor, delete after the grace
        period) under this memory's ForgettingPolicy, for one user or every user."""
        return ForgettingCycle(self.engine, self.forgetting).run(user_id, dry_run=dry_run)

    def close(self) -> None:
        """Apply queued memory work (up to memory_wait_s; what is left stays in the store for the
        next start), then close the stores."""
        if self.worker is not None:
            self.worker.close(self.settings.memory_wait_s)
            self.worker = None
        self.long_term.flush_reads()
        self.working.close()
        self.engine.dispose()


def _not_started(job: MemoryJob, live: Any) -> Any:
    raise RuntimeError("memory work submitted before MemoryManager.start_work")


__all__ = ["MemoryManager"]
