"""SQLite's vector index: exact for most users, striped sign bits + exact rescoring for a user
with more than EXACT_UP_TO memories; either way scoped to one user, and never returning what was
forgotten. EXACT_UP_TO is lowered here so that a few hundred memories take the large-user paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framework.embeddings import HashEmbedder
from framework.memory.longterm import migrations as database
from framework.memory.longterm.backends import sqlite as sqlite_backend
from framework.memory.longterm.backends import sqlite_vectors as vector_tables
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import SearchQuery
from framework.memory.longterm.store import LongTermMemory

DIM = 384


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 12 centres: neighbours that are near, as real embeddings have (sign
    bits of random vectors tell near from far poorly: the worst case, not the usual one)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, DIM))
    vectors = centres[rng.integers(0, 12, n)] + 0.7 * rng.standard_normal((n, DIM))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> LongTermMemory:
    engine = database.open_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    database.migrate(engine, f"test-{DIM}", DIM)
    return LongTermMemory(engine)


def fill(store: LongTermMemory, user: str, vectors: np.ndarray) -> list[int]:
    entries = [MemoryEntry(user_id=user, content=f"{user} memory {i}") for i in range(len(vectors))]
    return [e.id or 0 for e in store.add_many(entries, vectors.tolist())]


@pytest.mark.parametrize("exact_up_to", [2048, 50])  # every user small; "ada" large
def test_nearest_is_close_to_exact_and_scoped_to_the_user(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch, exact_up_to: int
) -> None:
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", exact_up_to)
    ada_vectors, bob_vectors = clustered(600, 1), clustered(600, 2)
    ada, bob = fill(store, "ada", ada_vectors), fill(store, "bob", bob_vectors)
    queries = clustered(40, 3)
    overlap = []
    with store.engine.connect() as conn:
        for q in queries:
            got = store.backend.nearest(conn, "ada", q.tolist(), 10)
            exact = {ada[i] for i in np.argsort(-(ada_vectors @ q))[:10]}
            overlap.append(len(exact & {mid for mid, _ in got}) / 10)
            assert len(got) == 10 and {mid for mid, _ in got} <= set(ada)
            distances = [d for _, d in got]
            assert distances == sorted(distances)  # exact cosine, nearest first
        own = store.backend.nearest(conn, "bob", bob_vectors[7].tolist(), 5)
    assert own[0] == (bob[7], pytest.approx(0.0, abs=1e-5))
    assert np.mean(overlap) == 1.0 if exact_up_to == 2048 else np.mean(overlap) >= 0.9


def test_a_large_user_never_gets_back_what_was_forgotten(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", 50)
    vectors = clustered(300, 4)
    ids = fill(store, "ada", vectors)
    fill(store, "bob", vectors)  # the same vectors and texts: only the user tells them apart
    assert store.forget("ada", ids[5], actor="user", reason="test")
    with store.engine.connect() as conn:
        assert ids[5] not in {mid for mid, _ in store.backend.nearest(conn, "ada", vectors[5].tolist(), 30)}
    found = store.search(SearchQuery("ada", "ada memory 5"), vectors[5].tolist())
    assert ids[5] not in {r.memory.id for r in found.items} and ids[5] not in found.dropped  # not a candidate
    assert {r.memory.user_id for r in found.items} == {"ada"}
    lexical = store.search(SearchQuery("ada", "memory"), None)  # the large user's lexical path
    assert lexical.items and {r.memory.user_id for r in lexical.items} == {"ada"}
    with store.engine.connect() as conn:
        bits = conn.exec_driver_sql("SELECT count(*) FROM memory_vec_bits WHERE rowid = ?", (ids[5],))
        assert bits.scalar() == 0


@pytest.mark.parametrize("crash_first", [False, True])
def test_a_schema_3_store_keeps_its_vectors_through_the_striping_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_first: bool
) -> None:
    embedder = HashEmbedder(DIM)
    engine = database.open_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    monkeypatch.setattr(database, "MIGRATIONS", database.MIGRATIONS[:3])  # as version 3 left it
    database.migrate(engine, embedder.name, DIM)
    texts = ["Ada plays the cello", "Ada sings alto", "Bob plays the cello"]
    with engine.begin() as conn:
        for mid, text in enumerate(texts, 1):
            user = text.split()[0].lower()
            conn.exec_driver_sql(
                "INSERT INTO memory (id, user_id, content, memory_type, confidence, source, status, "
                "created_at, access_count, tags) VALUES (?, ?, ?, 'fact', 0.9, 'explicit', 'active', "
                "'2026-01-01 00:00:00.000000', 0, '[]')",
                (mid, user, text),
            )
            conn.exec_driver_sql(
                "INSERT INTO memory_vec(rowid, user_id, embedding) VALUES (?, ?, ?)",
                (mid, user, vector_tables.pack(embedder.embed([text])[0])),
            )
    monkeypatch.undo()
    if crash_first:  # a migration that dies half-way leaves the store as it was, and runs again

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("killed mid-migration")

        monkeypatch.setattr(sqlite_backend.SQLiteBackend, "_insert_vectors", staticmethod(crash))
        with pytest.raises(RuntimeError, match="killed mid-migration"):
            database.migrate(engine, embedder.name, DIM)
        monkeypatch.undo()
        with engine.connect() as conn:
            version = conn.exec_driver_sql(
                "SELECT value FROM store_meta WHERE key = 'schema_version'"
            ).scalar()
            names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")]
        assert version == "3" and "memory_vec" in names
        assert [n for n in names if "bits" in n or "v4" in n] == []  # nothing of schema 4 was left
    database.migrate(engine, embedder.name, DIM)
    store = LongTermMemory(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM memory_vec_bits").scalar() == 3
        nearest = store.backend.nearest(conn, "ada", embedder.embed(["Ada sings alto"])[0], 5)
    assert [mid for mid, _ in nearest][0] == 2 and {mid for mid, _ in nearest} == {1, 2}
    engine.dispose()


@pytest.mark.parametrize("exact_up_to", [2048, 50])
def test_users_who_share_a_bucket_stay_apart(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch, exact_up_to: int
) -> None:
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", exact_up_to)
    for module in (sqlite_backend, vector_tables):  # every user collides
        monkeypatch.setattr(module, "bucket", lambda user_id: 7 << 40)
    vectors = clustered(200, 5)
    ada, bob = fill(store, "ada", vectors), fill(store, "bob", vectors)
    with store.engine.connect() as conn:
        for i in (0, 50, 199):
            assert store.backend.nearest(conn, "ada", vectors[i].tolist(), 3)[0][0] == ada[i]
            assert store.backend.nearest(conn, "bob", vectors[i].tolist(), 3)[0][0] == bob[i]
            assert {mid for mid, _ in store.backend.nearest(conn, "bob", vectors[i].tolist(), 30)} <= set(bob)


def test_a_large_user_searches_words_alone_only_when_they_hold_most_of_the_store(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", 50)
    scoped: list[str] = []
    real = sqlite_backend.owner_token

    def owner(user_id: str) -> str:
        scoped.append(user_id)
        return real(user_id)

    ada = fill(store, "ada", clustered(120, 6))  # ada: large, and all of the store
    monkeypatch.setattr(sqlite_backend, "owner_token", owner)
    with store.engine.connect() as conn:
        assert len(store.backend.lexical(conn, "ada", ["memory"], 10)) == 10 and scoped == []
    monkeypatch.setattr(sqlite_backend, "owner_token", real)
    fill(store, "bob", clustered(300, 7))  # now bob holds most of it
    store.backend._shares.clear()  # type: ignore[attr-defined]  # forget the cached share
    monkeypatch.setattr(sqlite_backend, "owner_token", owner)
    with store.engine.connect() as conn:
        found = store.backend.lexical(conn, "ada", ["memory"], 10)
    assert scoped == ["ada"] and len(found) == 10
    assert {mid for mid, _ in found} <= set(ada)


def test_a_schema_4_memory_table_is_rebuilt_to_never_reuse_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framework.memory.longterm.records import MemoryEntry as Entry

    engine = database.open_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    monkeypatch.setattr(database, "MIGRATIONS", database.MIGRATIONS[:4])  # as version 4 left it
    monkeypatch.setitem(Entry.__table__.dialect_options["sqlite"], "autoincrement", False)  # type: ignore[attr-defined]
    database.migrate(engine, f"test-{DIM}", DIM)
    monkeypatch.undo()
    store = LongTermMemory(engine)
    ids = fill(store, "ada", clustered(5, 8))
    with engine.connect() as conn:
        made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'memory'").scalar()
    assert "AUTOINCREMENT" not in made
    database.migrate(engine, f"test-{DIM}", DIM)
    assert store.delete("ada", ids[-1], actor="user", reason="test")
    [again] = fill(store, "ada", clustered(1, 9))
    assert again > ids[-1] and [e.id for e in store.all_entries("ada")] == [*ids[:-1], again]
    with engine.connect() as conn:
        indexes = {
            r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE tbl_name = 'memory'")
        }
    assert {"ix_memory_user_id", "ix_memory_status", "ix_memory_user_status"} <= indexes
    engine.dispose()


def test_a_user_holding_most_of_the_store_gets_their_own_best_words_first(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unfiltered ranking (then the user's kept) answers as the filtered one does; other users'
    matches no longer crowd in (bob's "cello" is bob's word: per-user words), and the filtered
    search stays the fallback for when they would."""
    monkeypatch.setattr(sqlite_backend, "EXACT_UP_TO", 50)
    monkeypatch.setattr(sqlite_backend, "OWNER_SHARE_OVERSAMPLE", 2)
    entries = [
        MemoryEntry(user_id="ada", content=f"ada note {i} " + ("cello " if i % 3 == 0 else "piano "))
        for i in range(200)
    ]
    ada = [e.id for e in store.add_many(entries, clustered(200, 10).tolist())]
    # bob's ten memories say "cello" many times: they outrank every one of ada's
    bob_entries = [MemoryEntry(user_id="bob", content="cello " * 6 + f"bob {i}") for i in range(10)]
    bob = [e.id for e in store.add_many(bob_entries, clustered(10, 11).tolist())]
    store.backend._shares.clear()  # type: ignore[attr-defined]

    def filtered(terms: list[str], k: int) -> list[tuple[int, float]]:
        match = (
            "content : (" + " OR ".join(f'"{sqlite_backend.as_users_words("ada", t)}"' for t in terms) + ")"
        )
        rows = conn.exec_driver_sql(
            "SELECT rowid, bm25(memory_fts, 1.0, 0.0, 0.0) AS score FROM memory_fts "
            "WHERE memory_fts MATCH ? AND user_id = ? ORDER BY score, rowid LIMIT ?",
            (match, "ada", k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    with store.engine.connect() as conn:
        for terms, k in ((["piano"], 10), (["cello"], 5), (["cello"], 20), (["cello", "piano"], 30)):
            got = store.backend.lexical(conn, "ada", terms, k)
            assert got == filtered(terms, k) and len(got) == k
            assert {mid for mid, _ in got} <= set(ada) and not {mid for mid, _ in got} & set(bob)


def test_other_users_words_do_not_change_how_a_users_memories_rank(tmp_path: Path) -> None:
    """FTS5 counts a word's documents over the whole file: each user's words are indexed as that
    user's own, so bob writing "walrus" forty times changes nothing in how ada's memories rank
    (the same number of words without it leaves the file's size and mean length the same)."""
    scores = []
    for bobs in ("walrus walrus seen today", "gravel path seen today"):
        engine = database.open_engine(f"sqlite:///{tmp_path / (bobs.split()[0] + '.db')}")
        database.migrate(engine, f"test-{DIM}", DIM)
        store = LongTermMemory(engine)
        texts = [
            f"ada saw a walrus by the harbour {i}" if i % 4 == 0 else f"ada walked home {i}"
            for i in range(30)
        ]
        store.add_many([MemoryEntry(user_id="ada", content=t) for t in texts], clustered(30, 3).tolist())
        others = [MemoryEntry(user_id="bob", content=f"{bobs} {i}") for i in range(40)]
        store.add_many(others, clustered(40, 4).tolist())
        with store.engine.connect() as conn:
            scores.append(store.backend.lexical(conn, "ada", ["walrus", "harbour", "home"], 20))
        store.engine.dispose()
    assert scores[0] == scores[1] and len(scores[0]) == 20


def test_a_schema_9_store_gets_per_user_words_when_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = database.open_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    monkeypatch.setattr(database, "MIGRATIONS", database.MIGRATIONS[:9])  # as version 9 left it
    monkeypatch.setattr(sqlite_backend, "as_users_words", lambda user_id, text: text)  # words as then
    database.migrate(engine, f"test-{DIM}", DIM)
    store = LongTermMemory(engine)
    [walrus, _] = [
        e.id
        for e in store.add_many(
            [MemoryEntry(user_id="ada", content=t) for t in ("a walrus", "a home")], clustered(2, 1).tolist()
        )
    ]
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT content FROM memory_fts WHERE rowid = ?", (walrus,)).scalar()
            == "a walrus"
        )
    monkeypatch.undo()
    database.migrate(engine, f"test-{DIM}", DIM)
    with engine.connect() as conn:
        assert [mid for mid, _ in store.backend.lexical(conn, "ada", ["walrus"], 5)] == [walrus]
        stored = conn.exec_driver_sql("SELECT content FROM memory_fts WHERE rowid = ?", (walrus,)).scalar()
    assert stored == sqlite_backend.as_users_words("ada", "a walrus") != "a walrus"
    engine.dispose()
