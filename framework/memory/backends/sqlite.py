"""The embedded default: one SQLite file, sqlite-vec for vectors (a vec0 table partitioned by
user), FTS5 for lexical search (BM25 with Porter stemming).

The stdlib sqlite3 on many Pythons cannot load extensions, so the driver is pysqlite3 where the
stdlib one cannot.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from framework.errors import ConfigurationError
from framework.memory.backends import Backend, Row, execute


def _sqlite_module() -> Any:
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import pysqlite3.dbapi2 as module
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise ConfigurationError(
            "this Python's sqlite3 cannot load extensions and pysqlite3 is missing: "
            "pip install pysqlite3-binary"
        ) from exc
    return module


def pack(vector: Sequence[float]) -> bytes:
    """A vector as sqlite-vec takes it: little float32s."""
    return struct.pack(f"{len(vector)}f", *vector)


def owner_token(user_id: str) -> str:
    """One word that stands for a user in the lexical index: a lexical search looks only at that
    user's rows instead of every user's matches (the user_id filter still follows, exactly)."""
    return "o" + hashlib.blake2b(user_id.encode(), digest_size=10).hexdigest()


def _vector_table(dim: int) -> str:
    return (
        "CREATE VIRTUAL TABLE memory_vec USING vec0("
        f"user_id text partition key, embedding float[{dim}] distance_metric=cosine)"
    )


class SQLiteBackend(Backend):
    name = "sqlite"

    def unindexed(self, column: str) -> str:
        return f"+{column}"  # unary plus

    def open(self, url: str) -> Engine:
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, module=_sqlite_module(), connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            import sqlite_vec

            dbapi_conn.enable_load_extension(True)
            sqlite_vec.load(dbapi_conn)
            dbapi_conn.enable_load_extension(False)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine

    def create_indexes(self, conn: Connection, dim: int) -> None:
        conn.exec_driver_sql(_vector_table(dim).replace("TABLE", "TABLE IF NOT EXISTS", 1))
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5("
            "content, user_id UNINDEXED, tokenize='porter unicode61')"
        )

    def scope_lexical_by_user(self, conn: Connection) -> None:
        """FTS5 cannot filter on an unindexed column before matching: each user's rows get an
        owner word, and a search matches it alongside the query's terms."""
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE memory_fts_owned USING fts5("
            "content, user_id UNINDEXED, owner, tokenize='porter unicode61')"
        )
        users = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT user_id FROM memory").fetchall()]
        for user in users:  # what was indexed: the active memories
            execute(
                conn,
                "INSERT INTO memory_fts_owned(rowid, content, user_id, owner) "
                "SELECT id, content, user_id, ? FROM memory WHERE user_id = ? AND status = 'active'",
                (owner_token(user), user),
            )
        conn.exec_driver_sql("DROP TABLE memory_fts")
        conn.exec_driver_sql("ALTER TABLE memory_fts_owned RENAME TO memory_fts")

    def recreate_vectors(self, conn: Connection, dim: int) -> None:
        conn.exec_driver_sql("DROP TABLE IF EXISTS memory_vec")
        conn.exec_driver_sql(_vector_table(dim))

    def insert_memories(
        self, conn: Connection, insert: str, given: list[Row], fresh: list[Row], assign: Callable[[int], None]
    ) -> None:
        if given:  # ids the caller chose are taken first, so the fresh ones follow them
            conn.exec_driver_sql(insert, given)
        if fresh:
            # The first takes SQLite's next rowid (and the write lock): no other writer can take
            # the ids after it before this transaction ends.
            first = int(conn.exec_driver_sql(insert, fresh[0]).lastrowid)
            assign(first)
            if len(fresh) > 1:
                conn.exec_driver_sql(insert, [(first + i, *row[1:]) for i, row in enumerate(fresh) if i])

    def index_vectors(self, conn: Connection, rows: Sequence[tuple[int, str, Sequence[float]]]) -> None:
        conn.exec_driver_sql(
            "INSERT INTO memory_vec(rowid, user_id, embedding) VALUES (?, ?, ?)",
            [(mid, user, pack(vector)) for mid, user, vector in rows],
        )

    def index_text(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        conn.exec_driver_sql(
            "INSERT INTO memory_fts(rowid, content, user_id, owner) VALUES (?, ?, ?, ?)",
            [(mid, content, user, owner_token(user)) for mid, user, content in rows],
        )

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        rows = conn.exec_driver_sql(
            "SELECT rowid, distance FROM memory_vec WHERE embedding MATCH ? AND k = ? AND user_id = ?",
            (pack(vector), k, user_id),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """FTS5's BM25 of the content column; only this user's rows (their owner word)."""
        if not terms:
            return []
        match = (
            f'owner : "{owner_token(user_id)}" AND content : (' + " OR ".join(f'"{t}"' for t in terms) + ")"
        )
        rows = conn.exec_driver_sql(
            "SELECT rowid, bm25(memory_fts, 1.0, 0.0, 0.0) AS score FROM memory_fts "
            "WHERE memory_fts MATCH ? AND user_id = ? ORDER BY score LIMIT ?",
            (match, user_id, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]
