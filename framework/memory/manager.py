"""MemoryManager: owns the four layers and is the only thing the loop talks to about memory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from framework.config import Settings
from framework.embeddings import Embedder, resolve_embedder
from framework.memory.candidates import Extraction, MemoryCandidate
from framework.memory.context import ContextWindow, TokenCounter
from framework.memory.database import migrate, open_engine
from framework.memory.longterm import LongTermMemory, RankWeights, RecallQuery, expiry
from framework.memory.procedural import Procedures, load_procedures
from framework.memory.records import MemoryEntry, MemorySource, MemoryType
from framework.memory.sensitive import redact, repeats_secret, sensitive_values
from framework.memory.working import WorkingMemory, WorkingState
from framework.memory.write_policy import WritePolicy
from framework.turn import MemoryOp, Outcome, Recollection

DUPLICATE_SIMILARITY = 0.92
SUCCESS_BONUS = 0.1
FAILURE_PENALTY = -0.2


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
    ) -> None:
        self.settings = settings
        self.embedder = resolve_embedder(embedder if embedder is not None else settings.embedder)
        self.engine = open_engine(settings.database_url)
        migrate(self.engine, self.embedder.name, self.embedder.dim)
        self.long_term = LongTermMemory(self.engine, weights)
        self.working = WorkingMemory(settings.home / "working", settings.working_ttl_s)
        self.procedures: Procedures = load_procedures(skills_dir, policies_dir)
        self.write_policy = write_policy or WritePolicy()
        self.recall_limit = recall_limit

    def context_window(self, model_name: str | None) -> ContextWindow:
        return ContextWindow(self.settings.context_tokens, TokenCounter(model_name))

    # --- step 2: retrieve -------------------------------------------------------------------
    def recall(
        self, user_id: str | None, session_id: str, query: str, task_tags: tuple[str, ...] = ()
    ) -> Recollection:
        state = self.working.load(user_id, session_id)
        skills = [s for s in self.procedures.skills if _overlaps(query, s.when_to_use + " " + s.name)]
        if user_id is None:
            return Recollection(
                [],
                [],
                [],
                skills,
                self.procedures.policies,
                state,
                warnings=["anonymous session: long-term memory not consulted"],
            )
        started = time.perf_counter()
        vector = self.embedder.embed([query])[0] if query.strip() else None
        embed_ms = (time.perf_counter() - started) * 1000
        lt = self.long_term
        always = lt.active(user_id, (MemoryType.preference.value, MemoryType.constraint.value))
        found = lt.recall(
            RecallQuery(
                user_id,
                query,
                limit=self.recall_limit,
                types=(MemoryType.fact.value, MemoryType.outcome.value),
                task_tags=task_tags,
            ),
            vector,
        )
        used = [m.id for m in always] + [r.memory.id for r in found.items]
        lt.touch(
            user_id,
            [i for i in used if i is not None],
            query,
            {r.memory.id: r.score for r in found.items if r.memory.id is not None},
        )
        return Recollection(
            preferences=[m for m in always if m.memory_type == MemoryType.preference.value],
            constraints=[m for m in always if m.memory_type == MemoryType.constraint.value],
            relevant=found.items,
            skills=skills,
            policies=self.procedures.policies,
            state=state,
            dropped={k: v for k, v in found.dropped.items() if not v.startswith("type ")},
            candidates=found.candidates,
            warnings=found.warnings,
            embed_ms=embed_ms,
        )

    def visible(self, user_id: str | None, recalled: Recollection, recent: int = 5) -> list[MemoryEntry]:
        """The memories a turn may refer to: what was recalled, and what this session wrote last
        (so "don't remember that" can name what was just stored)."""
        known = recalled.preferences + recalled.constraints + [r.memory for r in recalled.relevant]
        if user_id is None:
            return known
        shown = {m.id for m in known}
        recent_ids = [i for i in recalled.state.written_ids[-recent:] if i not in shown]
        known += [m for m in self.long_term.get_many(user_id, recent_ids) if m.status == "active"]
        return known

    # --- step 6: memory operations -------------------------------------------------------------
    def apply(
        self,
        user_id: str | None,
        state: WorkingState,
        extraction: Extraction,
        visible_ids: set[int],
        actor: str = "agent",
        secrets: set[str] | None = None,
    ) -> list[MemoryOp]:
        """Run candidates through the write policy, dedup and supersede; honour forget requests.
        Only memories the model was shown (`visible_ids`) may be replaced or forgotten."""
        ops: list[MemoryOp] = []
        for request in extraction.forget:
            if user_id is None or request.memory_id not in visible_ids:
                ops.append(
                    MemoryOp(
                        "reject", request.memory_id, "", "forget request for a memory this turn did not show"
                    )
                )
                continue
            reason = redact(request.reason)
            if self.long_term.forget(user_id, request.memory_id, actor="user", reason=reason):
                ops.append(MemoryOp("forget", request.memory_id, "", reason))
        for candidate in extraction.memories:
            ops.append(self._write(user_id, state, candidate, visible_ids, actor, secrets or set()))
        return ops

    def _write(
        self,
        user_id: str | None,
        state: WorkingState,
        c: MemoryCandidate,
        visible_ids: set[int],
        actor: str,
        secrets: set[str],
    ) -> MemoryOp:
        why_not = self.write_policy.rejection(
            c.content, c.confidence, anonymous=user_id is None, writes_so_far=state.writes
        )
        if why_not is None and repeats_secret(c.content, secrets):
            why_not = "sensitive: repeats a secret from the conversation"
        content = _scrub(c.content, secrets)
        if why_not is not None or user_id is None:
            if user_id is not None:
                self.long_term.audit(user_id, "reject", why_not or "", {"content": content})
            return MemoryOp("reject", None, content, why_not or "anonymous")
        vector = self.embedder.embed([c.content])[0]
        entry = MemoryEntry(
            user_id=user_id,
            content=c.content,
            memory_type=c.memory_type.value,
            confidence=c.confidence,
            source=c.source.value,
            tags=list(c.tags),
            valid_until=expiry(c.valid_for_days) if c.valid_for_days is not None else None,
            session_id=state.session_id,
            embedder=self.embedder.name,
        )
        if c.replaces is not None and c.replaces in visible_ids:
            new = self.long_term.supersede(
                user_id, c.replaces, entry, vector, actor=actor, reason=f"corrects #{c.replaces}"
            )
            state.writes += 1
            state.written_ids.append(new.id or 0)
            return MemoryOp("supersede", new.id, c.content, f"replaces #{c.replaces}")
        close = {
            mid: sim
            for mid, sim in self.long_term.nearest(user_id, vector, k=3)
            if sim >= DUPLICATE_SIMILARITY
        }
        for existing in self.long_term.get_many(user_id, list(close)):
            if existing.memory_type == entry.memory_type and existing.id is not None:
                similarity = close[existing.id]
                self.long_term.adjust(
                    user_id,
                    [existing.id],
                    0.05,
                    operation="reinforce",
                    reason=f"restated (similarity {similarity:.2f})",
                )
                return MemoryOp(
                    "reinforce", existing.id, existing.content, f"near-duplicate ({similarity:.2f})"
                )
        new = self.long_term.add(entry, vector, actor=actor, reason="extracted after outcome")
        state.writes += 1
        state.written_ids.append(new.id or 0)
        return MemoryOp("write", new.id, c.content, f"{c.memory_type.value}, confidence {c.confidence:.2f}")

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
    ) -> MemoryOp:
        """Write one memory directly (an application's explicit 'remember'), through the policy."""
        state = WorkingState(user_id=user_id, session_id="api")
        candidate = MemoryCandidate(
            content=content,
            memory_type=MemoryType(memory_type),
            confidence=confidence,
            source=MemorySource.explicit,
            tags=tags or [],
        )
        return self._write(user_id, state, candidate, set(), "user", sensitive_values(content))

    def save_state(self, state: WorkingState) -> None:
        self.working.save(state)

    # --- the user's rights ---------------------------------------------------------------------
    def export(self, user_id: str) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "memories": [m.model_dump(mode="json") for m in self.long_term.all_entries(user_id)],
            "audit": [a.model_dump(mode="json") for a in self.long_term.history(user_id)],
        }

    def delete_user(self, user_id: str) -> dict[str, int]:
        return {
            "memories": self.long_term.delete_user(user_id),
            "sessions": self.working.delete_user(user_id),
        }

    def close(self) -> None:
        self.working.close()
        self.engine.dispose()


def _scrub(text: str, secrets: set[str]) -> str:
    """`text` redacted by pattern and with every known secret value masked."""
    text = redact(text)
    for value in secrets:
        text = text.replace(value, "[REDACTED]")
    return text


def _overlaps(query: str, text: str) -> bool:
    words = {w for w in query.lower().split() if len(w) > 3}
    return bool(words & {w.strip(".,:;") for w in text.lower().split()})


__all__ = ["MemoryManager"]
