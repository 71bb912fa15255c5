"""Many processes, one SQLite store: real processes writing at once lose no turn and no write;
a write held up past its deadline is StoreBusy with advice, never a raw driver error, and leaves
the store intact. No timing is asserted beyond correctness bounds."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from framework.config import load_settings
from framework.errors import StoreBusy
from framework.log import logger
from framework.memory.governance import Consent
from framework.memory.longterm import backends
from framework.memory.longterm.audit import READ_BATCH
from framework.memory.longterm.lifecycle import ForgettingCycle
from framework.memory.longterm.migrations import migrate
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.store import LongTermMemory
from framework.memory.manager import MemoryManager

SHORT_S = 0.3  # the write deadline of these tests: the lock is held for longer

_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process holds the store's write lock until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


@pytest.fixture
def mm(home: Path) -> Iterator[MemoryManager]:
    manager = MemoryManager(load_settings(), embedder="hash")
    yield manager
    manager.close()


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The framework log's warnings during the test (its logger may not propagate to caplog)."""
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def add(lt: LongTermMemory, mm: MemoryManager, content: str) -> MemoryEntry:
    entry = MemoryEntry(user_id="ada", content=content, embedder=mm.embedder.name)
    return lt.add(entry, mm.embedder.embed([content])[0], reason="test")


def counts(mm: MemoryManager) -> tuple[int, ...]:
    with mm.engine.connect() as conn:
        tables = ("memory", "memory_vec", "memory_fts", "audit", "user_settings")
        return tuple(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in tables)


def test_processes_writing_one_store_fail_no_turn_and_lose_no_write() -> None:
    from framework.bench.concurrency import measure

    result = measure(processes=4, seconds=3, users=6)
    assert result["crashed"] == [] and result["killed"] == 0
    assert result["turns"] > 0 and result["writes"] > 0
    assert result["failed_turns"] == 0, result["failures"]
    assert result["turn_errors"] == result["turn_warnings"] == result["misaligned_scripts"] == 0
    assert result["lost_writes"] == 0 and result["lost_recall_audits"] == 0
    assert result["shared_sessions"] > 0 and result["lost_state_lines"] == 0  # diskcache: merged
    assert result["store_busy"] == 0 and result["store_intact"]


WRITES: dict[str, Callable[[MemoryManager, Any], object]] = {
    "add": lambda mm, short: add(LongTermMemory(short), mm, "The user cycles to work"),
    "adjust": lambda mm, short: LongTermMemory(short).adjust("ada", [1], 0.1, operation="adjust", reason="t"),
    "forget": lambda mm, short: LongTermMemory(short).forget("ada", 1, actor="user", reason="t"),
    "consent": lambda mm, short: Consent(short).set_opted_out("ada", True),
    "forgetting cycle": lambda mm, short: ForgettingCycle(short).run(),
    "migration": lambda mm, short: migrate(short, mm.embedder.name, mm.embedder.dim),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_a_write_held_up_past_its_deadline_is_store_busy_and_the_store_stays_intact(
    mm: MemoryManager, operation: str
) -> None:
    first = add(mm.long_term, mm, "The user prefers tea")
    before = counts(mm)
    short = mm.engine.execution_options(write_deadline_s=SHORT_S)
    database = Path(str(mm.engine.url.database))
    with write_lock_held(database):
        with pytest.raises(StoreBusy) as caught:
            WRITES[operation](mm, short)
        assert [e.id for e in mm.long_term.active("ada")] == [first.id]  # a reader does not wait
    message = str(caught.value)
    assert not isinstance(caught.value, DBAPIError)
    assert "2 processes have" in message and str(database) in message and "waited" in message
    assert "PostgreSQL (FRAMEWORK_DATABASE_URL" in message and "fewer processes" in message
    assert counts(mm) == before  # nothing half-written
    with mm.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    WRITES[operation](mm, short)  # the lock released, the same write goes through


def test_recalls_are_kept_while_the_store_is_busy_and_written_after(
    mm: MemoryManager, warnings: list[str]
) -> None:
    first = add(mm.long_term, mm, "The user prefers tea")
    lt = LongTermMemory(mm.engine.execution_options(write_deadline_s=SHORT_S))
    with write_lock_held(Path(str(mm.engine.url.database))):
        for i in range(READ_BATCH):  # the batch's flush finds the store busy: no error for a recall
            lt.touch("ada", [first.id or 0], f"tea {i}", {first.id or 0: 0.5})
    assert any(f"{READ_BATCH} recalls kept" in w for w in warnings)
    reads = [a for a in lt.history("ada") if a.operation == "read"]  # flushes what was kept
    assert [a.detail["query_chars"] for a in reads] == [len(f"tea {i}") for i in range(READ_BATCH)]
    assert (lt.get("ada", first.id or 0) or first).access_count == READ_BATCH


class _Clock:
    """time for take_write_lock: sleeps advance it, nothing waits."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class _Busy(Exception):
    pass


def test_the_lock_is_retried_with_jittered_exponential_backoff_until_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, waits = _Clock(), []
    monkeypatch.setattr(backends, "time", clock)

    def attempt(wait_s: float) -> None:
        waits.append(wait_s)
        clock.now += wait_s
        raise _Busy("database is locked")

    with pytest.raises(StoreBusy, match="waited 5 s"):
        backends.take_write_lock(attempt, lambda e: isinstance(e, _Busy), lambda s: f"waited {s:.0f} s", 5.0)
    assert clock.now >= 5.0 and all(0 <= w <= backends.ATTEMPT_WAIT_S for w in waits)
    caps = [min(backends.BACKOFF_MAX_S, backends.BACKOFF_FIRST_S * 2**n) for n in range(len(clock.sleeps))]
    assert all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))
    assert len(set(clock.sleeps)) > 1  # jittered: writers that collided do not retry in step

    tries: list[float] = []

    def third_time(wait_s: float) -> None:
        tries.append(wait_s)
        if len(tries) < 3:
            raise _Busy("database is locked")

    backends.take_write_lock(third_time, lambda e: isinstance(e, _Busy), str, 5.0)
    assert len(tries) == 3

    def broken(wait_s: float) -> None:
        raise ValueError("no such table: memory")

    with pytest.raises(ValueError):  # not contention: raised at once, not retried
        backends.take_write_lock(broken, lambda e: isinstance(e, _Busy), str, 5.0)
