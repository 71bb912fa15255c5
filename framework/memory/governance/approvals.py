"""Writes waiting for a human, and each user's consent to long-term memory.

When the write policy requires approval, curated decisions are parked here instead of being
written; `framework memory approve` (or chat's /approve) carries one out, `reject` drops it.
A user who opted out gets nothing written long-term.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from framework.memory.governance.candidates import MemoryCandidate
from framework.memory.governance.curation import WriteDecision
from framework.memory.longterm.backends import execute, write_session
from framework.memory.longterm.records import AuditEvent, PendingWrite, UserSettings, utcnow


class WriteQueue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def park(self, user_id: str, session_id: str | None, decisions: list[WriteDecision]) -> list[int]:
        ids = []
        with write_session(self.engine) as s:
            for d in decisions:
                row = PendingWrite(
                    user_id=user_id,
                    session_id=session_id,
                    action=d.action,
                    target=d.target,
                    candidate=d.candidate.model_dump(mode="json") | {"content": d.content},
                    reason=d.reason,
                )
                s.add(row)
                s.flush()
                s.add(
                    AuditEvent(
                        user_id=user_id,
                        operation="pending",
                        reason=d.reason,
                        detail={"pending_id": row.id, "action": d.action},
                    )
                )
                ids.append(row.id or 0)
            s.commit()
        return ids

    def pending(self, user_id: str) -> list[PendingWrite]:
        with Session(self.engine) as s:
            query = select(PendingWrite).where(col(PendingWrite.user_id) == user_id)
            return list(s.scalars(query.order_by(col(PendingWrite.id))))

    def take(self, user_id: str, pending_id: int, *, approved: bool, reason: str) -> WriteDecision | None:
        """Remove one pending write; return it as a WriteDecision to carry out if approved."""
        with write_session(self.engine) as s:
            query = select(PendingWrite).where(
                col(PendingWrite.user_id) == user_id, col(PendingWrite.id) == pending_id
            )
            row = s.scalars(query).first()
            if row is None:
                return None
            s.delete(row)
            s.add(
                AuditEvent(
                    user_id=user_id,
                    operation="approve" if approved else "reject",
                    actor="user",
                    reason=reason,
                    detail={"pending_id": pending_id},
                )
            )
            s.commit()
        candidate = MemoryCandidate.model_validate(row.candidate)
        return WriteDecision(candidate, row.action, row.reason, row.target, candidate.content)  # type: ignore[arg-type]


class Consent:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def opted_out(self, user_id: str | None) -> bool:
        if user_id is None:
            return False
        with self.engine.connect() as conn:
            row = execute(conn, "SELECT opted_out FROM user_settings WHERE user_id = ?", (user_id,)).first()
        return bool(row and row[0])

    def set_opted_out(self, user_id: str, opted_out: bool) -> None:
        with write_session(self.engine) as s:
            row = s.get(UserSettings, user_id) or UserSettings(user_id=user_id)
            row.opted_out, row.updated_at = opted_out, utcnow()
            s.add(row)
            s.add(
                AuditEvent(
                    user_id=user_id,
                    operation="consent",
                    actor="user",
                    reason="opted out of long-term memory" if opted_out else "opted in",
                )
            )
            s.commit()
