"""A small user's exact scan over vectors held in process memory (vector_cache.py): the same
answer as sqlite-vec's cosine in SQL, and never stale — a memory written, deleted, or written by
another process is seen by the next search, and a re-embedded store is read again."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing import Queue
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from framework.memory.longterm import migrations as database
from framework.memory.longterm.backends import sqlite as sqlite_backend
from framework.memory.longterm.backends import sqlite_vectors as vector_tables
from framework.memory.longterm.backends import vector_cache
from framework.memory.longterm.backends.vector_cache import (
    UserBits,
    VectorCache,
    int8_codes,
    scanning,
    shortlist,
)
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


@pytest.fixture(params=["unit vectors", "sign bits", "sign bits and codes", "scanned apart"])
def form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which form the user's vectors are held in: a small user's unit vectors, or (EXACT_UP_TO
    lowered) a large user's sign bits — alone (as a user too large for the int8 codes), with the
    codes, or with the codes and scanned in a worker thread — whose shortlist holds every row of
    these small tests."""
    if request.param != "unit vectors":
        monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", 5)
    if request.param == "sign bits":
        fits = VectorCache.fits
        monkeypatch.setattr(
            VectorCache,
            "fits",
            lambda self, rows, dim, large, codes=False: not codes and fits(self, rows, dim, large),
        )
    if request.param == "scanned apart":
        monkeypatch.setattr(sqlite_backend, "SCAN_APART_FROM", 0)
    return str(request.param)


@pytest.fixture
def store(tmp_path: Path, form: str) -> LongTermMemory:
    return open_store(tmp_path / "memory.db")


def fill(store: LongTermMemory, user: str, vectors: np.ndarray) -> list[int]:
    entries = [MemoryEntry(user_id=user, content=f"{user} memory {i}") for i in range(len(vectors))]
    return [e.id or 0 for e in store.add_many(entries, vectors.tolist())]


def in_sql(engine: Engine, user: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """sqlite-vec's own exact answer: its cosine per row, in SQL."""
    first = vector_tables.bucket(user)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT memory_id, vec_distance_cosine(embedding, ?) AS d FROM memory_vec "
            "WHERE slot BETWEEN ? AND ? AND user_id = ? ORDER BY d, memory_id LIMIT ?",
            (vector_tables.pack(query.tolist()), first, first + (1 << 40) - 1, user, k),
        ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def nearest(store: LongTermMemory, user: str, query: np.ndarray, k: int = 10) -> list[tuple[int, float]]:
    with store.engine.connect() as conn:
        return store.backend.nearest(conn, user, query.tolist(), k)


def test_the_cached_scan_answers_as_sqlite_vec_does(store: LongTermMemory) -> None:
    fill(store, "ada", unit(200, 1))  # within a large user's shortlist: exact either way
    fill(store, "bob", unit(200, 2))
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


def test_another_process_writes_are_seen(tmp_path: Path, form: str) -> None:
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
        cache.vectors(conn, user, (10, 10, total, 0), rows_after, DIM)  # type: ignore[arg-type]
    assert loads == ["a", "b", "c", "d", "a"]  # "a" had left when "d" came
    cache.vectors(conn, "d", (10, 10, total, 0), rows_after, DIM)  # type: ignore[arg-type]
    assert loads[-1] == "a"  # "d" is still held
    small = VectorCache(max_bytes=100)
    small.vectors(conn, "a", (10, 10, total, 0), rows_after, DIM)  # type: ignore[arg-type]
    small.vectors(conn, "a", (10, 10, total, 0), rows_after, DIM)  # type: ignore[arg-type]
    assert loads[-2:] == ["a", "a"]


def test_a_large_users_search_finds_its_own_nearest_among_many(
    store: LongTermMemory, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the shortlist: a memory's own vector finds it first; appended rows are searched."""
    monkeypatch.setattr(sqlite_backend, "SHORTLIST", 32)
    monkeypatch.setattr(sqlite_backend, "CODED_SHORTLIST", 32)
    monkeypatch.setattr(sqlite_backend, "OVERSAMPLE", 1)
    vectors = unit(600, 4)
    ids = fill(store, "ada", vectors[:500])
    fill(store, "bob", vectors[500:])
    for i in (0, 250, 499):
        assert nearest(store, "ada", vectors[i], 5)[0] == (ids[i], pytest.approx(0.0, abs=1e-5))
    more = fill(store, "ada", vectors[500:])  # bob's vectors, now ada's too: appended
    got = nearest(store, "ada", vectors[550], 5)
    assert got[0][0] == more[50] and {mid for mid, _ in got} <= set(ids) | set(more)


def test_a_user_too_large_to_hold_is_searched_in_the_store(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", 5)
    monkeypatch.setattr(store.backend._vectors, "max_bytes", 1000)  # nothing large fits
    vectors = unit(100, 6)
    ids = fill(store, "ada", vectors)
    assert nearest(store, "ada", vectors[42], 1)[0][0] == ids[42]
    cache = store.backend._vectors
    assert (cache._tokens.get(store.engine), "ada") not in cache._entries


def test_the_counts_follow_writes_deletes_and_changes_in_place(store: LongTermMemory) -> None:
    """The signature the cache trusts: kept by the store's triggers, gone with the last vector."""
    ids = fill(store, "ada", unit(3, 1))
    with store.engine.connect() as conn:
        assert vector_tables.user_signature(conn, "ada") == (3, max(ids), sum(ids), 0)
    before = nearest(store, "ada", unit(1, 1)[0], 1)
    assert before[0][0] == ids[0]
    with store.engine.begin() as conn:  # a vector replaced in place: the cache must not trust it
        conn.exec_driver_sql(
            "UPDATE memory_vec SET embedding = ? WHERE memory_id = ?",
            (unit(1, 8)[0].astype("<f4").tobytes(), ids[0]),
        )
        assert vector_tables.user_signature(conn, "ada") == (3, max(ids), sum(ids), 1)
    assert nearest(store, "ada", unit(1, 8)[0], 1) == [(ids[0], pytest.approx(0.0, abs=1e-5))]
    for mid in ids:
        assert store.delete("ada", mid, actor="user", reason="test")
    with store.engine.connect() as conn:
        assert vector_tables.user_signature(conn, "ada") == (0, 0, 0, 0)
        assert not conn.exec_driver_sql("SELECT * FROM memory_vec_users WHERE user_id = 'ada'").all()


def test_an_older_store_gets_the_counts_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    ids = fill(open_store(path), "ada", unit(4, 1))
    engine = database.open_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # as a store made before the counts existed
        for name in ("memory_vec_added", "memory_vec_removed", "memory_vec_changed"):
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql("DROP TABLE memory_vec_users")
    engine.dispose()
    reopened = open_store(path)
    with reopened.engine.connect() as conn:
        assert vector_tables.user_signature(conn, "ada") == (4, max(ids), sum(ids), 0)
    (new,) = fill(reopened, "ada", unit(1, 2))
    with reopened.engine.connect() as conn:
        assert vector_tables.user_signature(conn, "ada")[:3] == (5, new, sum(ids) + new)


def test_int8_codes_give_the_cosine_within_a_few_thousandths() -> None:
    vectors = np.vstack([unit(500, 1) * 3.0, np.zeros((1, DIM))])  # any length; a zero vector
    codes, scales = int8_codes(vectors.astype(np.float32))
    assert codes.dtype == np.int8 and np.abs(codes[:-1]).max(axis=1).min() == 127
    queries = unit(50, 2)
    from_codes = (codes.astype(np.float32) * scales[:, None]) @ queries.T
    exact = np.vstack([unit(500, 1), np.zeros((1, DIM))]) @ queries.T
    error = np.abs(from_codes - exact)
    assert error.max() < 2.5e-3 and error.mean() < 5e-4
    assert not codes[-1].any()  # the zero vector stays zero: similar to nothing


def test_room_is_made_by_giving_up_a_users_codes_before_the_user() -> None:
    """The int8 codes only speed a large user's search up: under the bound the least recently used
    user's codes go first, and their bits still find their nearest."""
    rows = {
        user: [(i + 1, v.astype("<f4").tobytes()) for i, v in enumerate(unit(100, seed))]
        for user, seed in (("a", 1), ("b", 2))
    }
    signature = (100, 100, sum(range(1, 101)), 0)

    class Conn:
        engine = type("E", (), {})()

    conn = Conn()

    def rows_after(_conn: object, user: str, after: int) -> list[tuple[int, bytes]]:
        return [r for r in rows[user] if r[0] > after]

    probe = VectorCache(max_bytes=10**9)
    one = probe.bits(conn, "a", signature, rows_after, DIM, codes=True)  # type: ignore[arg-type]
    coded, plain = one.nbytes, one.without_codes().nbytes
    cache = VectorCache(max_bytes=coded + plain + 1000)  # room for one user's codes and two users' bits
    a = cache.bits(conn, "a", signature, rows_after, DIM, codes=True)  # type: ignore[arg-type]
    assert a.buffers.codes is not None
    cache.bits(conn, "b", signature, rows_after, DIM, codes=True)  # type: ignore[arg-type]
    held = {key[1]: entry for key, entry in cache._entries.items()}
    assert set(held) == {"a", "b"} and cache._bytes <= cache.max_bytes
    assert held["a"].buffers.codes is None and held["b"].buffers.codes is not None  # type: ignore[union-attr]
    # a's bits (held as they are, not loaded again) still rank a's own vector first
    again = cache.bits(conn, "a", signature, rows_after, DIM, codes=True)  # type: ignore[arg-type]
    assert again is held["a"]
    query = np.frombuffer(rows["a"][41][1], dtype="<f4")
    assert 42 in shortlist(again, query.tolist(), 8, keep=2)


def _scan_in_child(bits: UserBits, query: list[float], out: Queue) -> None:  # type: ignore[type-arg]
    out.put(scanning(bits, query, 4).result(timeout=20))


def test_a_forked_worker_scans_with_threads_of_its_own() -> None:
    """A server forks its workers after the parent may have scanned: the child must not wait on
    the parent's threads, which it does not have."""
    vectors = unit(50, 3).astype(np.float32)
    rows = [(i + 1, v.tobytes()) for i, v in enumerate(vectors)]
    bits = VectorCache().bits(
        type("C", (), {"engine": type("E", (), {})()})(),  # type: ignore[arg-type]
        "a",
        (50, 50, sum(range(1, 51)), 0),
        lambda _c, _u, after: [r for r in rows if r[0] > after],
        DIM,
        codes=True,
    )
    query = vectors[9].tolist()
    assert 10 in scanning(bits, query, 4).result(timeout=20)  # the parent's threads exist now
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_scan_in_child, args=(bits, query, out))
    child.start()
    assert 10 in out.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0


def test_searches_while_another_thread_writes_and_the_bound_is_tight(
    store: LongTermMemory, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches of two large users in four threads while a fifth writes to one of them, under a
    bound that holds one user's codes at most (codes are given up, users evicted and reloaded):
    no search fails, every answer holds only the searched user's memories, and a memory's own
    vector finds it."""
    cache = store.backend._vectors
    ada_vectors, bob_vectors = unit(300, 11), unit(300, 12)
    ada, bob = fill(store, "ada", ada_vectors), fill(store, "bob", bob_vectors)
    if form != "unit vectors":
        coded = vector_cache.bytes_for(300, DIM, large=True, codes=True)
        monkeypatch.setattr(cache, "max_bytes", int(coded * 1.5))  # codes of one user, bits of both
        monkeypatch.setattr(VectorCache, "fits", lambda self, rows, dim, large, codes=False: True)
    written: list[int] = []
    answers: list[tuple[str, set[int]]] = []
    failures: list[BaseException] = []

    def search(worker: int) -> None:
        rng = np.random.default_rng(worker)
        try:
            for _ in range(40):
                user, vectors, ids = (
                    ("ada", ada_vectors, ada) if rng.random() < 0.5 else ("bob", bob_vectors, bob)
                )
                i = int(rng.integers(len(ids)))
                got = nearest(store, user, vectors[i], 5)
                assert got[0][0] == ids[i], (user, i, got)
                answers.append((user, {mid for mid, _ in got}))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    def write() -> None:
        try:
            for vector in unit(30, 13):
                written.extend(fill(store, "ada", vector[None, :]))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=search, args=(n,)) for n in range(4)] + [
        threading.Thread(target=write)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(written) == 30 and len(answers) == 160
    owned = {"ada": set(ada) | set(written), "bob": set(bob)}
    assert all(found <= owned[user] for user, found in answers)
    probe = unit(30, 13)[-1]
    assert nearest(store, "ada", probe, 1)[0][0] == written[-1]
