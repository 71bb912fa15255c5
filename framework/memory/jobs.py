"""Memory work that must not be lost: a durable queue in the store.

When a turn's memory operations fail (the extraction call timed out, the provider was down), the
turn still returns its answer, and what memory needed from it — the exchange, redacted, and the
ids of the memories the turn showed — is kept here as a job. Jobs are retried later, oldest
first, before the same user's next memory work; one that keeps failing is given up after
MAX_ATTEMPTS and stays visible with its last error. Nothing in a job is a secret: every text in
it went through the same redaction as working memory.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from framework.clock import utcnow
from framework.memory.longterm.backends import execute, write_session
from framework.memory.longterm.records import MemoryJob
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.sensitive import redact

MAX_ATTEMPTS = 5


def exchange_payload(exchange: Exchange, shown_ids: list[int]) -> dict[str, Any]:
    """The exchange as a job keeps it: every text redacted, arguments included."""
    calls = [
        {
            "name": c.name,
            "arguments": {k: redact(str(v)) for k, v in c.arguments.items()},
            "verdict": c.verdict,
            "ok": c.ok,
            "result": redact(c.result),
        }
        for c in exchange.tool_calls
    ]
    return {
        "user_input": redact(exchange.user_input),
        "answer": redact(exchange.answer),
        "tool_calls": calls,
        "outcome": asdict(exchange.outcome) | {"failures": [redact(f) for f in exchange.outcome.failures]},
        "forget_asked": exchange.forget_asked,
        "shown_ids": shown_ids,
    }


def exchange_of(payload: dict[str, Any]) -> tuple[Exchange, list[int]]:
    calls = [
        ToolCallRecord(c["name"], c["arguments"], c["verdict"], [], [], ok=c["ok"], result=c["result"])
        for c in payload["tool_calls"]
    ]
    outcome = Outcome(**payload["outcome"])
    exchange = Exchange(payload["user_input"], payload["answer"], calls, outcome, payload["forget_asked"])
    return exchange, list(payload.get("shown_ids", []))


class MemoryJobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, user_id: str, session_id: str, payload: dict[str, Any], error: str) -> int:
        with write_session(self.engine) as s:
            job = MemoryJob(user_id=user_id, session_id=session_id, payload=payload, error=redact(error))
            s.add(job)
            s.commit()
            return job.id or 0

    def due(self, user_id: str, limit: int = 3) -> list[MemoryJob]:
        """This user's pending jobs, oldest first (asked every turn: one indexed probe first)."""
        with self.engine.connect() as conn:
            waiting = execute(
                conn, "SELECT 1 FROM memory_job WHERE user_id = ? AND status = 'pending' LIMIT 1", (user_id,)
            ).first()
        if waiting is None:
            return []
        with Session(self.engine) as s:
            query = (
                select(MemoryJob)
                .where(col(MemoryJob.user_id) == user_id, col(MemoryJob.status) == "pending")
                .order_by(col(MemoryJob.id))
                .limit(limit)
            )
            return list(s.scalars(query))

    def finish(self, job_id: int, error: str | None = None) -> None:
        """Mark a job done, or count a failed attempt (given up after MAX_ATTEMPTS)."""
        with write_session(self.engine) as s:
            job = s.get(MemoryJob, job_id)
            if job is None:
                return
            job.updated_at = utcnow()
            if error is None:
                job.status = "done"
            else:
                job.attempts += 1
                job.error = redact(error)
                job.status = "failed" if job.attempts >= MAX_ATTEMPTS else "pending"
            s.add(job)
            s.commit()

    def all(self, user_id: str) -> list[MemoryJob]:
        with Session(self.engine) as s:
            query = select(MemoryJob).where(col(MemoryJob.user_id) == user_id).order_by(col(MemoryJob.id))
            return list(s.scalars(query))
