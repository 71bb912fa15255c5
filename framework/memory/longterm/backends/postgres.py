"""Scale-out: PostgreSQL with pgvector for vectors and Postgres full-text search for lexical
matches, chosen by a `postgresql://` database URL (driver: psycopg 3, vectors through the
`pgvector` package's adapters: sent and copied in binary).

The vector index is a table of (memory_id, user_id, embedding vector(dim)) with a B-tree on user_id
and an HNSW index (cosine) on embedding. A user's nearest memories are found one of two ways:
- a user with few memories (at most EXACT_UP_TO, or too small a share of the table for the graph
  to find them quickly: see `_graph_pays`) gets the exact answer: the B-tree finds the user's rows,
  their cosine distances are sorted. Most users are such users, and the exact scan is as fast;
- a large user's are the HNSW index's, walked with pgvector's iterative scan (relaxed order,
  re-sorted here) so that other users' rows, filtered out after the graph returns them, do not
  leave fewer than k: the scan goes on until k of the user's rows are found or MAX_SCAN_TUPLES were
  looked at. Should it still return fewer than k (the user's rows sit far apart in the graph), the
  exact scan answers instead: the graph never makes a user's recall silently short.
The lexical index holds each memory's tsvector (the store's own configuration: English Snowball
stemming, no stop list; postgres_text.py) under a GIN index, ranked by BM25 computed from the
tsvectors (`lexical`). Large writes (COPY_FROM rows or more) are COPYed.
Sessions run in UTC so that timestamps read back as they were written.

A store made before the HNSW index gets it when it is next opened (`ensure_indexes`): building it
reads every vector: measured here (two busy cores) 77 s for 100,000 384-d vectors (the graph held
in memory; 1,000,000: the README's Scale table), and blocks writes to the store (not reads) meanwhile.
The server should keep the index in shared_buffers (pgvector's advice): with PostgreSQL's default
128 MB, a 100,000-vector index (~200 MB) is read from the OS cache at each search (62 ms against
10 ms measured for one search).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from framework.errors import ConfigurationError, StoreError
from framework.memory.longterm.backends import Backend, Row, execute
from framework.memory.longterm.backends.beside import beside
from framework.memory.longterm.backends.postgres_text import (
    BM25,
    ROWS_UP_TO,
    TEXT_SEARCH,
    WORD,
    make_text_search,
)

ANN_INDEX = "ix_memory_vec_embedding"
# HNSW: m and ef_construction are pgvector's defaults. EF_SEARCH, the candidates a search keeps
# (pgvector's default is 40, as many as a recall asks for), is raised for recall. Measured on
# 100,000 random unit 384-d vectors (HNSW's worst case: no structure, near-equal distances),
# recall@10 against the exact scan / p50 of one search: ef 40: 0.34 / 1.8 ms; 64: 0.36 / 4.2 ms;
# 100: 0.40 / 4.5 ms; 200: 0.45 / 8.5 ms. (Real embeddings cluster; not measured here at this size.)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH = 100
MAX_SCAN_TUPLES = 50_000  # most index rows one iterative scan visits (pgvector's default: 20,000)
# A user with at most this many indexed memories gets the exact scan: ~5 ms here at 5,000 rows
# (~19 ms at 20,000, ~74 ms at 100,000), where the graph takes 3-5 ms.
EXACT_UP_TO = 5_000
BESIDE_CONNECTIONS = 2  # a store's connections for graph searches beside the lexical one
COPY_FROM = 100  # rows in one write from which COPY is used rather than a multi-row INSERT
# New rows of the lexical (GIN) index wait in a pending list that every search reads whole, until
# it is merged: a short list (kB) bounds that cost; a large import merges it at once (`imported`).
GIN_PENDING_KB = 256
BUILD_MEMORY_MB = 4096  # most maintenance_work_mem asked for an index build (the graph in memory)
_SIZES_FOR_S = 60.0  # how long a user's size is trusted (it changes slowly)
_SESSION_SETTINGS = {"options": "-c timezone=UTC"}  # every connection of a store's, its own pool's too


def _driver(conn: Connection) -> Any:
    """The psycopg connection under `conn` (for COPY and pgvector's adapters)."""
    return conn.connection.driver_connection


def _register(conn: Connection) -> Any:
    """The psycopg connection under `conn`, with pgvector's adapters (vector <-> numpy) registered
    once per connection (after the extension exists: a store's first migration creates it), and
    the HNSW search settings made the connection's own then (they concern HNSW scans only, which
    only `approximate` asks for; set once, not per search: a statement less each time)."""
    driver = _driver(conn)
    if driver.adapters.types.get("vector") is None:
        from pgvector.psycopg import register_vector

        register_vector(driver)
        with driver.cursor() as cur:
            cur.execute(
                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', false), "
                "set_config('hnsw.ef_search', %s, false), set_config('hnsw.max_scan_tuples', %s, false)",
                (str(EF_SEARCH), str(MAX_SCAN_TUPLES)),
            )
    return driver


def _array(vector: Sequence[float]) -> Any:
    import numpy as np

    return np.asarray(vector, dtype=np.float32)


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self) -> None:
        # (store, user) -> (when, whether the graph pays); forgotten when the vector table is remade
        self._sizes: dict[tuple[str, str], tuple[float, bool]] = {}
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}  # (store, user) -> (when, rows)
        self._beside: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def unindexed(self, column: str) -> str:
        return f"({column} || '')"

    def open(self, url: str) -> Engine:
        try:
            import pgvector.psycopg  # noqa: F401
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                f"database_url {url!r} needs the PostgreSQL driver and pgvector's adapters: "
                "pip install 'framework[postgres]' (psycopg 3, pgvector)"
            ) from exc
        scheme, rest = url.split("://", 1)
        if "+" not in scheme:  # postgresql:// or postgres:// -> the psycopg 3 driver
            url = f"postgresql+psycopg://{rest}"
        return create_engine(url, connect_args=_SESSION_SETTINGS, pool_pre_ping=True)

    def create_indexes(self, conn: Connection, dim: int) -> None:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
        except DBAPIError as exc:
            raise StoreError(
                "this PostgreSQL cannot create the pgvector extension ('vector'), which the memory "
                "store needs: install pgvector on the server (https://github.com/pgvector/pgvector) "
                f"or have a superuser run CREATE EXTENSION vector. The server said: {exc.orig}"
            ) from exc
        self.recreate_vectors(conn, dim)
        make_text_search(conn)
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS memory_fts ("
            "rowid BIGINT PRIMARY KEY, user_id TEXT NOT NULL, content TSVECTOR NOT NULL, words INTEGER)"
        )
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_memory_fts_content ON memory_fts USING gin (content) "
            f"WITH (gin_pending_list_limit = {GIN_PENDING_KB})"
        )
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_fts_user ON memory_fts (user_id)")

    def scope_lexical_by_user(self, conn: Connection) -> None:
        """Nothing to do: the lexical table has a user_id column with its own index from the start."""

    def stripe_vectors(self, conn: Connection, dim: int) -> None:
        """Nothing to do: the HNSW index comes with `ensure_indexes`."""

    def never_reuse_ids(self, conn: Connection) -> None:
        """Nothing to do: a sequence never hands out an id twice."""

    def recreate_vectors(self, conn: Connection, dim: int) -> None:
        self._sizes.clear()
        conn.exec_driver_sql("DROP TABLE IF EXISTS memory_vec")
        conn.exec_driver_sql(
            "CREATE TABLE memory_vec (memory_id BIGINT PRIMARY KEY, user_id TEXT NOT NULL, "
            f"embedding vector({dim}) NOT NULL)"
        )
        conn.exec_driver_sql("CREATE INDEX ix_memory_vec_user ON memory_vec (user_id)")
        self.build_ann_index(conn)

    def ensure_indexes(self, conn: Connection) -> None:
        """What a store made by an older version lacks: the HNSW index, the text search
        configuration, the word counts' column, the index of each user's memories by id (recall's
        common words read a user's latest: framework.memory.longterm.focus), the lexical index's
        short pending list. Checked without a lock first; builders of one store take turns (an
        advisory lock), so that processes opening an old store at once build each once."""
        if not self._has_ann_index(conn):
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('framework:memory_vec:hnsw'))")
            self.build_ann_index(conn)
        make_text_search(conn)
        words = execute(
            conn,
            "SELECT to_regclass('memory_fts') IS NOT NULL, EXISTS (SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'memory_fts' AND column_name = 'words')",
        ).one()
        if words[0] and not words[1]:  # a store made before BM25 counted every word: rows count lexemes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('framework:memory_fts:words'))")
            conn.exec_driver_sql("ALTER TABLE memory_fts ADD COLUMN IF NOT EXISTS words INTEGER")
        if execute(conn, "SELECT to_regclass('ix_memory_user_recent') IS NULL").scalar():
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('framework:memory:recent'))")
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_user_recent ON memory (user_id, id)")
        option = f"gin_pending_list_limit={GIN_PENDING_KB}"
        gin = conn.exec_driver_sql(
            "SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = to_regclass('ix_memory_fts_content')"
        ).first()
        if gin is not None and option not in gin[0]:
            conn.exec_driver_sql(f"ALTER INDEX ix_memory_fts_content SET ({option})")

    @staticmethod
    def _has_ann_index(conn: Connection) -> bool:
        return bool(
            execute(
                conn,
                "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?",
                (ANN_INDEX,),
            ).first()
        )

    def build_ann_index(self, conn: Connection) -> float:
        """Create the HNSW index unless it exists; the seconds it took. The graph is built in
        memory (maintenance_work_mem raised for this transaction, up to BUILD_MEMORY_MB: past it
        the build goes on on disk, many times slower)."""
        began = time.perf_counter()
        rows = conn.exec_driver_sql(
            "SELECT greatest(reltuples, 0), (SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = 'memory_vec'::regclass AND attname = 'embedding') "
            "FROM pg_class WHERE oid = 'memory_vec'::regclass"
        ).one()
        # A graph node: the vector and up to 2*m neighbour links (of 6 bytes) in layer 0, plus
        # pgvector's overhead; twice that, to be safe.
        per_row = 4 * max(int(rows[1]), 1) + 12 * HNSW_M + 200
        wanted_mb = min(BUILD_MEMORY_MB, max(64, math.ceil(2 * float(rows[0]) * per_row / 2**20)))
        current_kb = int(
            conn.exec_driver_sql(
                "SELECT setting::bigint * (CASE unit WHEN 'kB' THEN 1 WHEN 'MB' THEN 1024 ELSE 1 END) "
                "FROM pg_settings WHERE name = 'maintenance_work_mem'"
            ).scalar_one()
        )
        if wanted_mb * 1024 > current_kb:
            conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{wanted_mb}MB'")
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {ANN_INDEX} ON memory_vec USING hnsw "
            f"(embedding vector_cosine_ops) WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        return time.perf_counter() - began

    def drop_ann_index(self, conn: Connection) -> None:
        """Drop the HNSW index (a bulk load into a new store is faster without it: build it after
        with `build_ann_index`); searches meanwhile are exact scans."""
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ANN_INDEX}")

    def insert_memories(
        self,
        conn: Connection,
        insert: str,
        given: list[Row],
        fresh: list[Row],
        assign: Callable[[list[int]], None],
    ) -> None:
        """The caller's ids first, the sequence moved past them; then one block of new ids from
        the sequence (nextval never hands an id to two writers; concurrent writers may interleave
        theirs, so the ids need not follow each other)."""
        sequence = "pg_get_serial_sequence('memory', 'id')"
        if given:
            self._insert_rows(conn, insert, given)
            conn.exec_driver_sql(
                f"SELECT setval({sequence}, greatest((SELECT max(id) FROM memory), nextval({sequence})))"
            )
        if fresh:
            ids = [
                int(r[0])
                for r in execute(
                    conn, f"SELECT nextval({sequence}) FROM generate_series(1, ?)", (len(fresh),)
                ).fetchall()
            ]
            assign(ids)
            self._insert_rows(conn, insert, [(mid, *row[1:]) for mid, row in zip(ids, fresh, strict=True)])

    @staticmethod
    def _insert_rows(conn: Connection, insert: str, rows: list[Row]) -> None:
        """`insert` (INSERT INTO table (columns) VALUES (?, ...)) of many rows: COPY of its columns
        in text (each value as PostgreSQL reads it from text: the times, the JSON) when they are many."""
        if len(rows) < COPY_FROM:
            execute(conn, insert, rows)
            return
        target = insert.split("INSERT INTO", 1)[1].split(" VALUES", 1)[0].strip()
        with _driver(conn).cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def imported(self, conn: Connection) -> None:
        """After a large import: fresh planner statistics (autovacuum would take its time; without
        them a user's search may not use its user_id index), and the lexical index's pending list
        merged into it (a search reads that list whole: 24 ms instead of 1 at 100,000 memories)."""
        conn.exec_driver_sql("ANALYZE memory, memory_vec, memory_fts")
        conn.exec_driver_sql("SELECT gin_clean_pending_list('ix_memory_fts_content')")

    def index_vectors(self, conn: Connection, rows: Sequence[tuple[int, str, Sequence[float]]]) -> None:
        if not rows:
            return
        driver = _register(conn)
        if len(rows) < COPY_FROM:
            with driver.cursor() as cur:
                cur.executemany(
                    "INSERT INTO memory_vec(memory_id, user_id, embedding) VALUES (%s, %s, %b)",
                    [(mid, user, _array(vector)) for mid, user, vector in rows],
                )
            return
        with (
            driver.cursor() as cur,
            cur.copy("COPY memory_vec (memory_id, user_id, embedding) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int8", "text", "vector"])
            for mid, user, vector in rows:
                copy.write_row((mid, user, _array(vector)))

    def index_text(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        """Each memory's tsvector, made by the server (to_tsvector); many rows are COPYed as text
        into a temporary table first, then turned into tsvectors in one statement."""
        if not rows:
            return
        counted = [(rowid, user, content, len(WORD.findall(content))) for rowid, user, content in rows]
        insert = (
            "INSERT INTO memory_fts(rowid, user_id, content, words) "
            f"VALUES (?, ?, to_tsvector('{TEXT_SEARCH}', ?), ?)"
        )
        if len(rows) < COPY_FROM:
            execute(conn, insert, counted)
            return
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS memory_fts_load "
            "(rowid BIGINT, user_id TEXT, content TEXT, words INTEGER) ON COMMIT DELETE ROWS"
        )
        with (
            _driver(conn).cursor() as cur,
            cur.copy("COPY memory_fts_load (rowid, user_id, content, words) FROM STDIN") as copy,
        ):
            for row in counted:
                copy.write_row(row)
        conn.exec_driver_sql(
            "INSERT INTO memory_fts(rowid, user_id, content, words) "
            f"SELECT rowid, user_id, to_tsvector('{TEXT_SEARCH}', content), words FROM memory_fts_load"
        )
        conn.exec_driver_sql("TRUNCATE memory_fts_load")

    def _graph_pays(self, conn: Connection, user_id: str) -> bool:
        """Whether the user's nearest are the HNSW index's: the index exists and the user has more
        than EXACT_UP_TO indexed memories, a share of the table large enough that the graph finds
        EF_SEARCH of them among fewer rows than the exact scan reads (n > sqrt(EF_SEARCH * total),
        the rows the graph visits for EF_SEARCH of a user with n of them being about
        EF_SEARCH * total / n). Known for a minute per store and user: sizes change slowly, and
        either answer is right (the graph's when it finds k rows, else the exact scan's)."""
        key, now = (str(conn.engine.url), user_id), time.monotonic()
        known = self._sizes.get(key)
        if known is not None and now - known[0] < _SIZES_FOR_S:
            return known[1]
        total = conn.exec_driver_sql(
            "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'memory_vec'::regclass"
        ).scalar_one()
        bound = max(EXACT_UP_TO, math.ceil(math.sqrt(EF_SEARCH * float(total))))
        mine = execute(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM memory_vec WHERE user_id = ? LIMIT ?) AS mine",
            (user_id, bound + 1),
        ).scalar_one()
        pays = int(mine) > bound and self._has_ann_index(conn)
        if len(self._sizes) > 10_000:
            self._sizes.clear()
        self._sizes[key] = (now, pays)
        return pays

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        """The HNSW index's nearest for a large user (iterative scan: k of the user's rows, not k
        rows of which the user's are some); otherwise, or when the graph returned fewer than k,
        the exact nearest."""
        _register(conn)
        query = _array(vector)
        if self._graph_pays(conn, user_id):
            rows = self.approximate(conn, user_id, query, k)
            if len(rows) >= k:
                return rows
        return self.exact(conn, user_id, query, k)

    def begin_nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> Callable[[], list[tuple[int, float]]]:
        """A large user's graph search runs on a connection of its own, in a worker thread, while
        the caller's connection serves the lexical search (both wait on the server: they overlap).
        That connection comes from a small pool of its own (BESIDE_CONNECTIONS), taken without
        waiting: when all are in use, the search runs on the caller's connection at once (a wait
        there could hold a connection of the store's pool while waiting for another). A small
        user's exact scan runs at once."""
        _register(conn)
        if not self._graph_pays(conn, user_id):
            return super().begin_nearest(conn, user_id, vector, k)
        query = _array(vector)
        try:
            own = self._beside_pool(conn.engine).connect()
        except PoolTimeout:  # every one in use
            return super().begin_nearest(conn, user_id, vector, k)

        def on_its_own() -> list[tuple[int, float]]:
            with own:
                return self.approximate(own, user_id, query, k)

        graph = beside(on_its_own)

        def finish() -> list[tuple[int, float]]:
            rows = graph.result()
            return rows if len(rows) >= k else self.exact(conn, user_id, query, k)

        return finish

    def _beside_pool(self, engine: Engine) -> Engine:
        """The store's connections for searches beside the caller's: closed with the store's."""
        with self._lock:
            pool = self._beside.get(engine)
            if pool is None:
                pool = self._beside[engine] = create_engine(
                    engine.url,
                    connect_args=_SESSION_SETTINGS,
                    pool_pre_ping=True,
                    pool_size=BESIDE_CONNECTIONS,
                    max_overflow=0,
                    pool_timeout=0,
                )
                event.listen(engine, "engine_disposed", lambda _engine: pool.dispose())
        return pool

    def approximate(self, conn: Connection, user_id: str, query: Any, k: int) -> list[tuple[int, float]]:
        """The user's k nearest by the HNSW index (iterative scan, relaxed order, EF_SEARCH: the
        connection's settings; SET LOCAL to k for this transaction when k is larger). Asked only for a
        user who holds a large share of the table, so that the planner's statistics (ANALYZE after
        a large import) make the graph cheaper than the B-tree and a sort: EXPLAIN shows an Index
        Scan on the HNSW index. (Hiding user_id from the B-tree would not do: with the default
        selectivity of an expression, the planner scans the whole table instead.)"""
        _register(conn)
        if k > EF_SEARCH:
            conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {int(k)}")
        rows = conn.exec_driver_sql(
            "SELECT memory_id, embedding <=> %s AS distance FROM memory_vec "
            "WHERE user_id = %s ORDER BY distance LIMIT %s",
            (query, user_id, k),
        ).fetchall()
        # relaxed_order: a later row may be a little nearer than an earlier one.
        return sorted(((int(r[0]), float(r[1])) for r in rows), key=lambda r: (r[1], r[0]))

    def exact(self, conn: Connection, user_id: str, query: Any, k: int) -> list[tuple[int, float]]:
        """The user's k nearest by an exact scan of their rows (found through the user_id B-tree).
        The distance is sorted outside a subquery (OFFSET 0 keeps it apart): ordered by the bare
        `embedding <=> query`, the planner could answer with the graph instead."""
        _register(conn)
        rows = conn.exec_driver_sql(
            "SELECT memory_id, distance FROM (SELECT memory_id, embedding <=> %s AS distance "
            "FROM memory_vec WHERE user_id = %s OFFSET 0) AS mine ORDER BY distance, memory_id LIMIT %s",
            (_array(query), user_id, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """BM25 (k1 1.2, b 0.75: SQLite FTS5's) of the user's memories that match any of the terms,
        computed from their tsvectors: a term's weight is its rarity among the user's memories
        (ts_rank has none, so a word in every memory, such as a speaker's name, counted as much
        as a rare one; LoCoMo any@10 0.814 against SQLite's 0.852). Document frequencies and the
        mean length are those of the matching memories; the user's memory count is `_rows`. A
        memory's length is its count of words, stop words included, as FTS5 counts its tokens
        (`words`, counted when it is indexed; a store indexed before that counts its lexemes:
        "Ada: where did you find it?" would be two words long)."""
        if not terms:
            return []
        rows = execute(
            conn,
            BM25,
            (user_id, " or ".join(terms), " ".join(terms), float(self._rows(conn, user_id)), k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def _rows(self, conn: Connection, user_id: str) -> int:
        """How many memories the user has in the lexical index (up to ROWS_UP_TO), known for a
        minute per store and user."""
        key, now = (str(conn.engine.url), user_id), time.monotonic()
        known = self._counts.get(key)
        if known is not None and now - known[0] < _SIZES_FOR_S:
            return known[1]
        count = int(
            execute(
                conn,
                "SELECT count(*) FROM (SELECT 1 FROM memory_fts WHERE user_id = ? LIMIT ?) AS mine",
                (user_id, ROWS_UP_TO),
            ).scalar_one()
        )
        if len(self._counts) > 10_000:
            self._counts.clear()
        self._counts[key] = (now, count)
        return count
