"""PostgreSQL at scale: the HNSW index (created at open, old stores included), per-user search
through it that still returns the user's k nearest (iterative scans), COPY for large writes, and
erasure that leaves no vectors behind. Small tables; the planner is told to use the index where
a test is about the index."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine

from framework.memory.longterm.backends import postgres, postgres_text
from framework.memory.longterm.backends.postgres import ANN_INDEX, PostgresBackend
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.store import LongTermMemory

DIM = 16


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    engine = open_engine(postgres_database)
    migrate(engine, "test", DIM)
    yield engine
    engine.dispose()


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add(store: LongTermMemory, user: str, texts: list[str], vectors: np.ndarray) -> list[int]:
    entries = [MemoryEntry(user_id=user, content=t, session_id="s1", embedder="test") for t in texts]
    store.add_many(entries, vectors.tolist(), actor="test", reason="test")
    return [int(e.id) for e in entries]  # type: ignore[arg-type]


def hnsw_definition(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'memory_vec' AND indexname = %s", (ANN_INDEX,)
        ).scalar()


def test_a_new_store_has_the_hnsw_index(engine: Engine) -> None:
    definition = hnsw_definition(engine)
    assert definition is not None and "USING hnsw" in definition and "vector_cosine_ops" in definition


def test_an_old_store_gets_the_index_when_opened(engine: Engine) -> None:
    """A store made before the index (and with the lexical index's default pending list) gets both
    at the next open, its rows kept."""
    store = LongTermMemory(engine)
    add(store, "ada", [f"memory {i}" for i in range(5)], unit_vectors(5, 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {ANN_INDEX}")
        conn.exec_driver_sql("ALTER INDEX ix_memory_fts_content RESET (gin_pending_list_limit)")
    assert hnsw_definition(engine) is None
    migrate(engine, "test", DIM)  # what opening the store does
    assert hnsw_definition(engine) is not None
    with engine.connect() as conn:
        options = conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = to_regclass('ix_memory_fts_content')"
        ).scalar()
        assert f"gin_pending_list_limit={postgres.GIN_PENDING_KB}" in options
        assert conn.exec_driver_sql("SELECT count(*) FROM memory_vec").scalar() == 5
    migrate(engine, "test", DIM)  # again: nothing to do


def test_a_rare_user_gets_their_own_k_nearest_through_the_index(engine: Engine) -> None:
    """3,000 rows of other users, 30 of one user: the graph's first candidates hold about one of
    the user's; the iterative scan goes on until k of theirs are found, and only theirs."""
    store = LongTermMemory(engine)
    add(store, "crowd", [f"crowd {i}" for i in range(3_000)], unit_vectors(3_000, 2))
    mine = add(store, "rare", [f"rare {i}" for i in range(30)], unit_vectors(30, 3))
    backend = PostgresBackend()
    query = unit_vectors(1, 4)[0]
    with engine.connect() as conn:
        exact = backend.exact(conn, "rare", query, 10)
        for plan in ("seqscan", "bitmapscan", "sort"):  # else the B-tree and a sort, for so few rows
            conn.exec_driver_sql(f"SET LOCAL enable_{plan} = off")
        plan = "\n".join(
            r[0]
            for r in conn.exec_driver_sql(
                "EXPLAIN SELECT memory_id FROM memory_vec WHERE user_id = 'rare' "
                "ORDER BY embedding <=> %s::vector LIMIT 10",
                (str(query.tolist()),),
            )
        )
        assert ANN_INDEX in plan
        found = backend.approximate(conn, "rare", query, 10)
        conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = off")  # without it: too few
        conn.exec_driver_sql("SET LOCAL hnsw.ef_search = 40")
        plain = conn.exec_driver_sql(
            "SELECT memory_id FROM memory_vec WHERE user_id = 'rare' "
            "ORDER BY embedding <=> %s::vector LIMIT 10",
            (str(query.tolist()),),
        ).fetchall()
    assert len(exact) == 10 and {m for m, _ in exact} <= set(mine)
    assert [m for m, _ in found] == [m for m, _ in exact]
    assert [d for _, d in found] == pytest.approx([d for _, d in exact], abs=1e-5)
    assert len(plain) < 10  # what the iterative scan is for


def test_nearest_uses_the_graph_for_a_large_user_and_the_exact_scan_for_a_small_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "EXACT_UP_TO", 50)
    monkeypatch.setattr(postgres, "EF_SEARCH", 10)  # sqrt(10 * 330) < 300: the graph pays for "big"
    store = LongTermMemory(engine)
    add(store, "small", [f"small {i}" for i in range(30)], unit_vectors(30, 5))
    big = add(store, "big", [f"big {i}" for i in range(300)], unit_vectors(300, 6))
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE memory_vec")
    backend = PostgresBackend()
    query = unit_vectors(1, 7)[0]
    with engine.connect() as conn:
        assert backend._graph_pays(conn, "big") and not backend._graph_pays(conn, "small")
        for plan in ("seqscan", "bitmapscan", "sort"):
            conn.exec_driver_sql(f"SET LOCAL enable_{plan} = off")
        large = backend.nearest(conn, "big", query.tolist(), 5)
        small = backend.nearest(conn, "small", query.tolist(), 5)
        assert small == backend.exact(conn, "small", query, 5)
    assert len(large) == 5 and {m for m, _ in large} <= set(big)
    assert [d for _, d in large] == sorted(d for _, d in large)


def test_copy_writes_the_same_rows_as_row_by_row(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import of COPY_FROM memories or more is COPYed; fewer go row by row: the stored memory,
    vector and lexical rows are the same either way."""
    n = postgres.COPY_FROM + 20
    texts = [f"Ada's note {i}: the tea is \t'oolong' and\nthe \\ path C:\\x" for i in range(n)]
    vectors = unit_vectors(n, 8)
    store = LongTermMemory(engine)
    add(store, "copied", texts, vectors)
    monkeypatch.setattr(postgres, "COPY_FROM", 10**9)
    add(store, "one-by-one", texts, vectors)

    def rows(user: str) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.exec_driver_sql(
                    "SELECT m.content, m.memory_type, m.confidence, m.source, m.status, m.tags::text, "
                    "m.session_id, m.created_at, v.embedding::text, f.content::text "
                    "FROM memory m JOIN memory_vec v ON v.memory_id = m.id AND v.user_id = m.user_id "
                    "JOIN memory_fts f ON f.rowid = m.id AND f.user_id = m.user_id "
                    "WHERE m.user_id = %s ORDER BY m.id",
                    (user,),
                )
            ]

    copied, one_by_one = rows("copied"), rows("one-by-one")
    assert len(copied) == n
    # created_at differs by when each was made; everything else is the same
    assert [r[:7] + r[8:] for r in copied] == [r[:7] + r[8:] for r in one_by_one]
    assert copied[0][0] == texts[0]


def test_deleting_a_user_leaves_no_vectors(engine: Engine) -> None:
    store = LongTermMemory(engine)
    gone = add(store, "gone", [f"secret {i}" for i in range(postgres.COPY_FROM + 5)], unit_vectors(105, 9))
    kept = add(store, "kept", ["stays"], unit_vectors(1, 10))
    store.delete_user("gone")
    with engine.connect() as conn:
        for table, key in (("memory_vec", "memory_id"), ("memory_fts", "rowid"), ("memory", "id")):
            left = conn.exec_driver_sql(
                f"SELECT count(*) FROM {table} WHERE user_id = 'gone' OR {key} = ANY(%s)", (gone,)
            ).scalar()
            assert left == 0, table
        assert conn.exec_driver_sql("SELECT memory_id FROM memory_vec").scalars().all() == kept


def lexical_ids(engine: Engine, user: str, words: list[str]) -> list[int]:
    with engine.connect() as conn:
        return [mid for mid, _ in PostgresBackend().lexical(conn, user, words, 10)]


def test_bm25_counts_every_word_as_fts5_does(engine: Engine) -> None:
    """Stop words are indexed and searched ('english' would drop "more" and "again"), and a
    memory's length is its word count, repeats included (a tsvector's length counts each lexeme
    once)."""
    store = LongTermMemory(engine)
    more, plain = add(store, "ada", ["Ada wants more tea again", "Ada wants tea"], unit_vectors(2, 3))
    assert lexical_ids(engine, "ada", ["more"]) == [more]
    assert lexical_ids(engine, "ada", ["again"]) == [more]
    with engine.connect() as conn:
        words = dict(conn.exec_driver_sql("SELECT rowid, words FROM memory_fts").fetchall())
    assert words == {more: 5, plain: 3}
    chatty, terse = add(
        store,
        "bob",
        ["Bob: kayak, kayak, kayak, kayak, kayak!", "Bob: red kayak trip"],
        unit_vectors(2, 4),
    )
    assert lexical_ids(engine, "bob", ["bob"]) == [terse, chatty]  # 4 words against 6 (2 lexemes)


def test_an_old_store_gets_the_text_search_configuration_and_word_counts(engine: Engine) -> None:
    """A store indexed with 'english' and without word counts: at the next open it gets the
    configuration and the column; its rows stay searchable (their lexemes count as their length)
    and new rows are counted."""
    store = LongTermMemory(engine)
    (old,) = add(store, "ada", ["Ada paints the lighthouse"], unit_vectors(1, 5))
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE memory_fts DROP COLUMN words")
        old_vector = "to_tsvector('english', 'Ada paints the lighthouse')"
        conn.exec_driver_sql(f"UPDATE memory_fts SET content = {old_vector}")
        for kind, name in postgres_text.text_search_objects():
            conn.exec_driver_sql(f"DROP TEXT SEARCH {kind} {name}")
    migrate(engine, "test", DIM)  # what opening the store does
    (new,) = add(store, "ada", ["Ada paints the harbour"], unit_vectors(1, 6))
    assert set(lexical_ids(engine, "ada", ["paints"])) == {old, new}
    assert lexical_ids(engine, "ada", ["lighthouse"]) == [old]
    with engine.connect() as conn:
        words = dict(conn.exec_driver_sql("SELECT rowid, words FROM memory_fts").fetchall())
    assert words == {old: None, new: 4}
    migrate(engine, "test", DIM)  # again: nothing to do


def test_a_users_latest_memories_are_read_through_an_index(engine: Engine) -> None:
    """Recall's common words read a user's latest memories (framework.memory.longterm.focus): an
    index on (user_id, id) walks them instead of sorting all of a large user's rows; an old store
    gets it when opened."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_memory_user_recent")
    migrate(engine, "test", DIM)  # what opening the store does
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_sort = off")
        plan = "\n".join(
            row[0]
            for row in conn.exec_driver_sql(
                "EXPLAIN SELECT content FROM memory WHERE user_id = 'ada' AND status = 'active' "
                "ORDER BY id DESC LIMIT 1000"
            )
        )
    assert "ix_memory_user_recent" in plan and "Sort" not in plan


def test_a_large_users_graph_search_runs_on_a_connection_of_its_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph search of a large user runs beside the caller's connection (which meanwhile serves
    the lexical search); with every connection for that in use it runs on the caller's, without
    waiting; the store's disposal closes them."""
    monkeypatch.setattr(postgres, "EXACT_UP_TO", 50)
    monkeypatch.setattr(postgres, "EF_SEARCH", 10)
    store = LongTermMemory(engine)
    add(store, "big", [f"big memory {i}" for i in range(300)], unit_vectors(300, 6))
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE memory_vec")
    backend = PostgresBackend()
    query = unit_vectors(1, 7)[0].tolist()
    with engine.connect() as conn:
        truth = backend.nearest(conn, "big", query, 5)
        finish = backend.begin_nearest(conn, "big", query, 5)
        words = backend.lexical(conn, "big", ["memory"], 5)  # the caller's connection is free
        assert finish() == truth and len(words) == 5
    beside = backend._beside[engine]
    assert beside.pool.checkedin() == 1  # the search's own connection, back in its pool
    held = [beside.connect() for _ in range(postgres.BESIDE_CONNECTIONS)]
    with engine.connect() as conn:
        assert backend.begin_nearest(conn, "big", query, 5)() == truth  # on the caller's connection
    for own in held:
        own.close()
    engine.dispose()
    assert beside.pool.checkedin() == 0
