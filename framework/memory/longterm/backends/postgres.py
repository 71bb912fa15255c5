"""Scale-out: PostgreSQL with pgvector for vectors and Postgres full-text search for lexical
matches, chosen by a `postgresql://` database URL (driver: psycopg 3).

The vector index is a table of (memory_id, user_id, embedding vector(dim)) with a B-tree on user_id:
a user's nearest memories are an exact cosine scan of that user's rows only (the partition the
SQLite store gets from vec0's partition key). The lexical index holds each memory's tsvector
(English configuration: stop words out, Snowball stemming) under a GIN index, ranked by ts_rank.
Sessions run in UTC so that timestamps read back as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from framework.errors import ConfigurationError, StoreError
from framework.memory.longterm.backends import Backend, Row, execute

_TEXT_SEARCH = "english"


def vector_literal(vector: Sequence[float]) -> str:
    """A vector as pgvector reads it from text: [x,y,...]."""
    return "[" + ",".join(map(str, vector)) + "]"


class PostgresBackend(Backend):
    name = "postgresql"

    def unindexed(self, column: str) -> str:
        return f"({column} || '')"

    def open(self, url: str) -> Engine:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                f"database_url {url!r} needs the PostgreSQL driver: pip install 'framework[postgres]' "
                "(psycopg 3)"
            ) from exc
        scheme, rest = url.split("://", 1)
        if "+" not in scheme:  # postgresql:// or postgres:// -> the psycopg 3 driver
            url = f"postgresql+psycopg://{rest}"
        return create_engine(url, connect_args={"options": "-c timezone=UTC"}, pool_pre_ping=True)

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
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS memory_fts ("
            "rowid BIGINT PRIMARY KEY, user_id TEXT NOT NULL, content TSVECTOR NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_memory_fts_content ON memory_fts USING gin (content)"
        )
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_fts_user ON memory_fts (user_id)")

    def scope_lexical_by_user(self, conn: Connection) -> None:
        """Nothing to do: the lexical table has a user_id column with its own index from the start."""

    def stripe_vectors(self, conn: Connection, dim: int) -> None:
        """Nothing to do: pgvector's exact scan of one user's rows needs no second index."""

    def never_reuse_ids(self, conn: Connection) -> None:
        """Nothing to do: a sequence never hands out an id twice."""

    def recreate_vectors(self, conn: Connection, dim: int) -> None:
        conn.exec_driver_sql("DROP TABLE IF EXISTS memory_vec")
        conn.exec_driver_sql(
            "CREATE TABLE memory_vec (memory_id BIGINT PRIMARY KEY, user_id TEXT NOT NULL, "
            f"embedding vector({dim}) NOT NULL)"
        )
        conn.exec_driver_sql("CREATE INDEX ix_memory_vec_user ON memory_vec (user_id)")

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
            execute(conn, insert, given)
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
            execute(conn, insert, [(mid, *row[1:]) for mid, row in zip(ids, fresh, strict=True)])

    def imported(self, conn: Connection) -> None:
        """Fresh planner statistics after a large import (autovacuum would take its time): without
        them a user's search may not use its user_id index."""
        conn.exec_driver_sql("ANALYZE memory, memory_vec, memory_fts")

    def index_vectors(self, conn: Connection, rows: Sequence[tuple[int, str, Sequence[float]]]) -> None:
        execute(
            conn,
            "INSERT INTO memory_vec(memory_id, user_id, embedding) VALUES (?, ?, ?::vector)",
            [(mid, user, vector_literal(vector)) for mid, user, vector in rows],
        )

    def index_text(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        execute(
            conn,
            "INSERT INTO memory_fts(rowid, user_id, content) "
            f"VALUES (?, ?, to_tsvector('{_TEXT_SEARCH}', ?))",
            list(rows),
        )

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        rows = execute(
            conn,
            "SELECT memory_id, embedding <=> ?::vector AS distance FROM memory_vec WHERE user_id = ? "
            "ORDER BY distance LIMIT ?",
            (vector_literal(vector), user_id, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """ts_rank of any of the terms (websearch syntax: `a or b`, quoting done by Postgres)."""
        if not terms:
            return []
        rows = execute(
            conn,
            f"SELECT rowid, ts_rank(content, q) AS score FROM memory_fts, "
            f"websearch_to_tsquery('{_TEXT_SEARCH}', ?) AS q "
            "WHERE user_id = ? AND content @@ q ORDER BY score DESC, rowid LIMIT ?",
            (" or ".join(terms), user_id, k),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]
