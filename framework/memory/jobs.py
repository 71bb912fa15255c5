"""Memory work that must not be lost: a durable queue in the store.

When a turn has given its answer, what memory needs from it — the exchange, redacted, the ids of
the memories the turn showed, how many conversation lines to fold into the summary — is stored
here as a job (`enqueue`), before the turn returns. A worker then claims the user's jobs one at a
time, oldest first (`claim_next`: never two of one user at once, in this process or another),
applies each and marks it done (`finish`). A job that fails is kept to be tried again before
the same user's next work and given up after MAX_ATTEMPTS, visible with its last error. A job
whose worker died (the process was killed between the answer and the memory work) is claimed
again: its claim names the host and process, and a claim older than CLAIM_LEASE_S is void
anywhere. Nothing in a job is a secret: every text in it went through the same redaction as
working memory.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from framework.clock import utcnow
from framework.memory.longterm.backends import execute, write_session
from framework.memory.longterm.records import MemoryJob
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.sensitive import redact

MAX_ATTEMPTS = 5
CLAIM_LEASE_S = 600.0  # a claim older than this is void (its worker is gone or stuck)
WAITING = ("queued", "pending")
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def exchange_payload(exchange: Exchange, shown_ids: list[int], **extra: Any) -> dict[str, Any]:
    """The exchange as a job keeps it: every text redacted, arguments included; `extra` are the
    job's other fields (plain data, no text from the conversation)."""
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
        "said_at": exchange.said_at.isoformat() if exchange.said_at else None,
        "shown_ids": shown_ids,
    } | extra


def exchange_of(payload: dict[str, Any]) -> tuple[Exchange, list[int]]:
    calls = [
        ToolCallRecord(c["name"], c["arguments"], c["verdict"], [], [], ok=c["ok"], result=c["result"])
        for c in payload["tool_calls"]
    ]
    outcome = Outcome(**payload["outcome"])
    said = payload.get("said_at")  # jobs queued before event time was kept have none: now
    exchange = Exchange(
        payload["user_input"],
        payload["answer"],
        calls,
        outcome,
        payload["forget_asked"],
        said_at=datetime.fromisoformat(said) if said else None,
    )
    return exchange, list(payload.get("shown_ids", []))


class MemoryJobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def enqueue(self, user_id: str, session_id: str, payload: dict[str, Any], status: str = "queued") -> int:
        """Store a turn's memory work (committed before this returns); its id. The job is the
        enqueuing process's to run while it lives (it holds the exchange as it was said)."""
        with write_session(self.engine) as s:
            job = MemoryJob(
                user_id=user_id,
                session_id=session_id,
                payload=payload,
                status=status,
                claimed_by=OWNER if status == "queued" else "",
                claimed_at=utcnow() if status == "queued" else None,
            )
            s.add(job)
            s.commit()
            return job.id or 0

    def add(self, user_id: str, session_id: str, payload: dict[str, Any], error: str) -> int:
        """Store work that already failed once, to be retried."""
        job_id = self.enqueue(user_id, session_id, payload, status="pending")
        self.finish(job_id, error, counted=False)
        return job_id

    def claim_next(self, user_id: str, owner: str = OWNER) -> MemoryJob | None:
        """The user's oldest job this worker may run, now running under `owner`: one it queued, one
        kept after a failure, or one whose worker is gone. None when there is none. Jobs another
        live process queued are left to it (it holds their exchanges as said): one user's jobs run
        in order within a process, and side by side across processes as turns do."""
        with self.engine.connect() as conn:  # the common case, no work: one indexed probe, no lock
            waiting = execute(
                conn,
                "SELECT 1 FROM memory_job WHERE user_id = ? "
                "AND status IN ('queued', 'pending', 'running') LIMIT 1",
                (user_id,),
            ).first()
        if waiting is None:
            return None
        with write_session(self.engine) as s:
            query = (
                select(MemoryJob)
                .where(col(MemoryJob.user_id) == user_id, col(MemoryJob.status).in_(WAITING + ("running",)))
                .order_by(col(MemoryJob.id))
                .with_for_update()  # a second claimer (PostgreSQL) waits, then sees this claim
            )
            job = next((j for j in s.scalars(query) if _claimable(j, owner)), None)
            if job is None:
                return None
            job.status, job.claimed_by, job.claimed_at = "running", owner, utcnow()
            s.add(job)
            s.commit()
            s.refresh(job)
            s.expunge(job)
            return job

    def finish(
        self,
        job_id: int,
        error: str | None = None,
        *,
        counted: bool = True,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Mark a job done, or count a failed attempt (given up after MAX_ATTEMPTS), keeping what
        the attempt learned (`payload`, e.g. the intent) for the next one."""
        with write_session(self.engine) as s:
            job = s.get(MemoryJob, job_id)
            if job is None:  # erased with its user meanwhile
                return
            if payload is not None:
                job.payload = dict(payload)
            job.updated_at = utcnow()
            job.claimed_by, job.claimed_at = "", None
            if error is None:  # its exchange is not kept past its use (secure_delete zeroes it)
                job.status, job.payload = "done", {"intent": job.payload.get("intent")} if job.payload else {}
            else:
                job.attempts += 1 if counted else 0
                job.error = redact(error)
                job.status = "failed" if job.attempts >= MAX_ATTEMPTS else "pending"
            s.add(job)
            s.commit()

    def release(self, job_id: int) -> None:
        """Put a claimed job back, untried (its worker is stopping)."""
        with write_session(self.engine) as s:
            job = s.get(MemoryJob, job_id)
            if job is not None and job.status == "running":
                job.status, job.claimed_by, job.claimed_at = "queued", "", None
                s.add(job)
                s.commit()

    def outstanding(self, user_id: str) -> int:
        """The user's jobs queued or running in any process (not those kept after a failure: they
        are retried before the user's next work)."""
        with self.engine.connect() as conn:
            row = execute(
                conn,
                "SELECT count(*) FROM memory_job WHERE user_id = ? AND status IN ('queued', 'running')",
                (user_id,),
            ).first()
        return int(row[0]) if row else 0

    def users_waiting(self, owner: str = OWNER) -> list[str]:
        """Users with work this worker may run: kept jobs, or jobs whose worker is gone."""
        with Session(self.engine) as s:
            jobs = s.scalars(
                select(MemoryJob)
                .where(col(MemoryJob.status).in_(WAITING + ("running",)))
                .order_by(col(MemoryJob.id))
            ).all()
        return list(dict.fromkeys(j.user_id for j in jobs if _claimable(j, owner)))

    def all(self, user_id: str) -> list[MemoryJob]:
        with Session(self.engine) as s:
            query = select(MemoryJob).where(col(MemoryJob.user_id) == user_id).order_by(col(MemoryJob.id))
            return list(s.scalars(query))

    def delete_user(self, user_id: str) -> int:
        """Erase every job of a user (their exchanges, redacted as they are, are theirs)."""
        with write_session(self.engine) as s:
            result = s.execute(delete(MemoryJob).where(col(MemoryJob.user_id) == user_id))
            s.commit()
            return int(getattr(result, "rowcount", 0) or 0)


def _claimable(job: MemoryJob, owner: str) -> bool:
    if job.status == "running":
        return _void(job)
    return not job.claimed_by or job.claimed_by == owner or _void(job)


def _void(job: MemoryJob) -> bool:
    """A running job's claim no longer holds: its process on this host is gone, or it is older
    than the lease (a worker elsewhere stopped, or is stuck)."""
    if job.claimed_at is None:
        return True
    claimed = job.claimed_at if job.claimed_at.tzinfo else job.claimed_at.replace(tzinfo=utcnow().tzinfo)
    if utcnow() - claimed > timedelta(seconds=CLAIM_LEASE_S):
        return True
    host, _, pid = job.claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) != os.getpid() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
