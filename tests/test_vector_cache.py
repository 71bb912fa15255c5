"""A small user's exact scan over vectors held in process memory (vector_cache.py): the same
answer as sqlite-vec's cosine in SQL, and never stale — a memory written, deleted, or written by
another process is seen by the next search, and a re-embedded store is read again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from framework.memory.longterm import migrations as database
from framework.memory.longterm.backends import sqlite as sqlite_backend
from framework.memory.longterm.backends.vector_cache import VectorCache
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.store import LongTermMemory

DIM = 384


def unit(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def open_store(path: Path) -> LongTermMemory:
    engine = database.open_engine(f"sqlite:///{path}")
    database.migrate(engine, f"test-{DIM}", DIM)
    return LongTermMemory(engine)


@pytest.fixture
def store(tmp_path: Path) -> LongTermMemory:
    return open_store(tmp_path / "memory.db")


def fill(store: LongTermMemory, user: str, vectors: np.ndarray) -> list[int]:
    entries = [MemoryEntry(user_id=user, content=f"{user} memory {i}") for i in range(len(vectors))]
    return [e.id or 0 for e in store.add_many(entries, vectors.tolist())]


def in_sql(engine: Engine, user: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """sqlite-vec's own exact answer: its cosine per row, in SQL."""
    first = sqlite_backend.bucket(user)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT memory_id, vec_distance_cosine(embedding, ?) AS d FROM memory_vec "
            "WHERE slot BETWEEN ? AND ? AND user_id = ? ORDER BY d, memory_id LIMIT ?",
            (sqlite_backend.pack(query.tolist()), first, first + (1 << 40) - 1, user, k),
        ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def nearest(store: LongTermMemory, user: str, query: np.ndarray, k: int = 10) -> list[tuple[int, float]]:
    with store.engine.connect() as conn:
        return store.backend.nearest(conn, user, query.tolist(), k)


def test_the_cached_scan_answers_as_sqlite_vec_does(store: LongTermMemory) -> None:
    fill(store, "ada", unit(300, 1))
    fill(store, "bob", unit(300, 2))
    for query in unit(20, 3):
        got, truth = nearest(store, "ada", query), in_sql(store.engine, "ada", query, 10)
        assert [mid for mid, _ in got] == [mid for mid, _ in truth]
        assert np.allclose([d for _, d in got], [d for _, d in truth], atol=1e-5)


def test_a_new_memory_is_found_by_the_next_search(store: LongTermMemory) -> None:
    fill(store, "ada", unit(50, 1))
    probe = unit(1, 9)[0]
    nearest(store, "ada", probe)  # the user's vectors are now cached
    (new,) = fill(store, "ada", probe[None, :])
    assert nearest(store, "ada", probe, 1) == [(new, pytest.approx(0.0, abs=1e-6))]


def test_a_deleted_memory_is_never_returned_again(store: LongTermMemory) -> None:
    vectors = unit(50, 1)
    ids = fill(store, "ada", vectors)
    assert nearest(store, "ada", vectors[7], 1)[0][0] == ids[7]
    assert store.delete("ada", ids[7], actor="user", reason="test")
    assert ids[7] not in {mid for mid, _ in nearest(store, "ada", vectors[7], 50)}
    # A deletion and a write between two searches: the count is back where it was and there are
    # new rows, but new rows are not all that changed.
    assert store.delete("ada", ids[8], actor="user", reason="test")
    (new,) = fill(store, "ada", unit(1, 5))
    found = {mid for mid, _ in nearest(store, "ada", vectors[8], 60)}
    assert ids[8] not in found and new in found and len(found) == 49


def test_another_process_writes_are_seen(tmp_path: Path) -> None:
    """Two engines on one file stand for two processes: each one's cache is checked against the
    store, so the other's write and deletion show at once."""
    path = tmp_path / "memory.db"
    mine, theirs = open_store(path), open_store(path)
    vectors = unit(40, 1)
    ids = fill(mine, "ada", vectors)
    nearest(mine, "ada", vectors[0])
    probe = unit(1, 7)[0]
    (written,) = fill(theirs, "ada", probe[None, :])
    assert nearest(mine, "ada", probe, 1)[0][0] == written
    assert theirs.delete("ada", ids[3], actor="user", reason="test")
    assert ids[3] not in {mid for mid, _ in nearest(mine, "ada", vectors[3], 41)}


def test_reembedding_the_store_drops_the_cached_vectors(store: LongTermMemory) -> None:
    vectors = unit(30, 1)
    ids = fill(store, "ada", vectors)
    nearest(store, "ada", vectors[0])
    # The same memories under new vectors, as a changed embedder writes them.
    replaced = unit(30, 2)
    with store.engine.begin() as conn:
        store.backend.recreate_vectors(conn, DIM)
        rows = [(mid, "ada", v.tolist()) for mid, v in zip(ids, replaced, strict=True)]
        store.backend.index_vectors(conn, rows)
    assert nearest(store, "ada", replaced[11], 1)[0][0] == ids[11]


def test_the_cache_is_bounded() -> None:
    """Least recently used users leave first; a user bigger than the bound is never kept."""
    cache = VectorCache(max_bytes=3 * (10 * 8 + 10 * DIM * 4))
    rows = [(i + 1, unit(1, i)[0].astype("<f4").tobytes()) for i in range(10)]
    total = sum(range(1, 11))

    class Conn:
        engine = type("E", (), {})()  # any weakly referable object stands for an engine

    conn = Conn()
    loads: list[str] = []

    def rows_after(_conn: object, user: str, after: int) -> list[tuple[int, bytes]]:
        loads.append(user)
        return [r for r in rows if r[0] > after]

    for user in ("a", "b", "c", "d", "a"):
        cache.vectors(conn, user, (10, 10, total), rows_after, DIM)  # type: ignore[arg-type]
    assert loads == ["a", "b", "c", "d", "a"]  # "a" had left when "d" came
    cache.vectors(conn, "d", (10, 10, total), rows_after, DIM)  # type: ignore[arg-type]
    assert loads[-1] == "a"  # "d" is still held
    small = VectorCache(max_bytes=100)
    small.vectors(conn, "a", (10, 10, total), rows_after, DIM)  # type: ignore[arg-type]
    small.vectors(conn, "a", (10, 10, total), rows_after, DIM)  # type: ignore[arg-type]
    assert loads[-2:] == ["a", "a"]
