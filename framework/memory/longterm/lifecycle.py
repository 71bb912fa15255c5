"""The forgetting cycle and re-embedding: long-term memory over months, not turns.

A cycle (run it daily, e.g. from cron: `framework memory forget-cycle`) does, in order:
  1 expiry     memories past their valid_until are forgotten
  2 decay      memories unused for `unused_after_days` lose confidence (half-life
               `half_life_days`); constraints are exempt: rules do not fade
  3 pruning    memories below `floor` confidence are forgotten
  4 deletion   superseded and forgotten memories older than `grace_days` are deleted for good,
               their vectors and lexical rows included
Every change is audited with its reason; a dry run reports without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Connection, Engine

from framework.embeddings import Embedder
from framework.errors import ConfigurationError
from framework.memory.longterm.backends import backend_for, execute, write_transaction
from framework.memory.longterm.migrations import set_meta
from framework.memory.longterm.records import as_utc, utcnow


@dataclass(frozen=True)
class ForgettingPolicy:
    """How memories fade: unused for `unused_after_days`, a memory's confidence halves every
    `half_life_days`; below `floor` (the seed's 0.3) it is forgotten, and deleted `grace_days`
    after. Constraints never decay. An agent sets its own (`Agent.forgetting`)."""

    unused_after_days: float = 30.0
    half_life_days: float = 90.0
    floor: float = 0.3
    grace_days: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.floor, int | float) or not 0.0 <= self.floor <= 1.0:
            raise ConfigurationError(
                f"ForgettingPolicy.floor: expected a confidence between 0 and 1, got {self.floor!r} "
                "(the seed's default is 0.3: memories whose confidence decays below it are forgotten)"
            )
        for name in ("unused_after_days", "half_life_days", "grace_days"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(
                    f"ForgettingPolicy.{name}: expected a number of days above 0, got {value!r}"
                )


@dataclass
class CycleReport:
    expired: list[int] = field(default_factory=list)
    decayed: list[int] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("expired", "decayed", "pruned", "deleted")}


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _audit(conn: Connection, rows: Iterable[tuple[str, int]], operation: str, reason: str) -> None:
    now = _ts(utcnow())
    execute(
        conn,
        "INSERT INTO audit (at, user_id, memory_id, operation, actor, reason, detail) "
        "VALUES (?, ?, ?, ?, 'runtime', ?, '{}')",
        [(now, user, mid, operation, reason) for user, mid in rows],
    )


class ForgettingCycle:
    def __init__(self, engine: Engine, policy: ForgettingPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or ForgettingPolicy()

    def run(
        self, user_id: str | None = None, *, now: datetime | None = None, dry_run: bool = False
    ) -> CycleReport:
        """One cycle for one user (or every user when None)."""
        p, now = self.policy, now or utcnow()
        report = CycleReport(dry_run=dry_run)
        scope, args = ("AND user_id = ?", (user_id,)) if user_id is not None else ("", ())
        # A dry run only reads: it takes no write lock, so it holds up no writer.
        with self.engine.begin() if dry_run else write_transaction(self.engine) as conn:
            q = partial(execute, conn)
            unindex = backend_for(conn).unindex
            expired = q(
                f"SELECT user_id, id FROM memory WHERE status = 'active' AND valid_until IS NOT NULL "
                f"AND valid_until <= ? {scope}",
                (_ts(now), *args),
            ).fetchall()
            report.expired = [mid for _u, mid in expired]

            unused_since = _ts(now - timedelta(days=p.unused_after_days))
            stale = q(
                f"SELECT user_id, id, confidence, coalesce(last_accessed, created_at) FROM memory "
                f"WHERE status = 'active' AND memory_type != 'constraint' "
                f"AND coalesce(last_accessed, created_at) <= ? {scope}",
                (unused_since, *args),
            ).fetchall()
            decayed: list[tuple[float, str, int]] = []
            for user, mid, confidence, used in stale:
                if mid in report.expired:
                    continue
                idle = (now - (as_utc(used) or now)).days - p.unused_after_days
                # decay from where the last cycle left it: the idle time is measured from last use,
                # so each cycle applies only the idle days since the previous one (tracked in meta)
                factor = 0.5 ** (max(0.0, min(idle, self._days_since_last(conn, now))) / p.half_life_days)
                if factor < 0.99:  # less than a day's decay waits for the next cycle
                    decayed.append((confidence * factor, user, mid))
            report.decayed = [mid for _c, _u, mid in decayed]
            pruned = [(user, mid) for c, user, mid in decayed if c < p.floor]
            pruned += [
                (u, m)
                for u, m in q(
                    f"SELECT user_id, id FROM memory WHERE status = 'active' AND confidence < ? {scope}",
                    (p.floor, *args),
                ).fetchall()
                if m not in report.expired
            ]
            report.pruned = sorted({mid for _u, mid in pruned})

            old = _ts(now - timedelta(days=p.grace_days))
            # the grace period runs from when the memory was superseded or forgotten (its audit)
            gone = q(
                "SELECT m.user_id, m.id FROM memory m WHERE m.status IN ('superseded', 'forgotten') "
                "AND (SELECT max(a.at) FROM audit a WHERE a.memory_id = m.id "
                "AND a.operation IN ('supersede', 'forget')) <= ? "
                f"{scope.replace('user_id', 'm.user_id')}",
                (old, *args),
            ).fetchall()
            report.deleted = [mid for _u, mid in gone]
            if dry_run:
                return report

            if expired:
                q("UPDATE memory SET status = 'forgotten' WHERE id = ?", [(m,) for m in report.expired])
                unindex(conn, report.expired)
                _audit(conn, expired, "forget", "expired: past its valid_until")
            if decayed:
                q("UPDATE memory SET confidence = ? WHERE id = ?", [(c, m) for c, _u, m in decayed])
                _audit(
                    conn,
                    [(u, m) for _c, u, m in decayed],
                    "decay",
                    f"unused for over {p.unused_after_days:g} days",
                )
            pruned_rows = sorted(set(pruned))
            if pruned_rows:
                q("UPDATE memory SET status = 'forgotten' WHERE id = ?", [(m,) for _u, m in pruned_rows])
                unindex(conn, [m for _u, m in pruned_rows])
                _audit(conn, pruned_rows, "forget", f"pruned: confidence below {p.floor:g}")
            if gone:
                q("DELETE FROM memory WHERE id = ?", [(m,) for _u, m in gone])
                unindex(conn, report.deleted)
                _audit(conn, gone, "delete", f"superseded or forgotten over {p.grace_days:g} days ago")
            set_meta(conn, "last_forgetting_cycle", _ts(now))
        return report

    @staticmethod
    def _days_since_last(conn: Connection, now: datetime) -> float:
        row = conn.exec_driver_sql("SELECT value FROM store_meta WHERE key = 'last_forgetting_cycle'").first()
        if row is None:
            return float("inf")
        last = as_utc(row[0]) or now
        return max(0.0, (now - last).total_seconds() / 86_400)


def reembed(
    engine: Engine, embedder: Embedder, batch: int = 256, progress: Callable[[int], None] | None = None
) -> int:
    """Re-embed every memory with `embedder`, rebuild the vector index at its dimension and
    record it as the store's embedder. Returns how many memories were embedded."""
    with write_transaction(engine) as conn:
        backend = backend_for(conn)
        rows = conn.exec_driver_sql(
            "SELECT id, user_id, content FROM memory WHERE status = 'active' ORDER BY id"
        ).fetchall()
        backend.recreate_vectors(conn, embedder.dim)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            vectors = embedder.embed([r[2] for r in chunk])
            backend.index_vectors(conn, [(r[0], r[1], v) for r, v in zip(chunk, vectors, strict=True)])
            if progress is not None:
                progress(len(chunk))
        execute(conn, "UPDATE memory SET embedder = ?", (embedder.name,))
        set_meta(conn, "embedder", embedder.name)
        set_meta(conn, "embedding_dim", str(embedder.dim))
    return len(rows)
