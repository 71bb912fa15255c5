"""Opening the embedded database: SQLite with sqlite-vec loaded, and schema migrations.

The stdlib sqlite3 on many Pythons cannot load extensions, so the driver is pysqlite3 where the
stdlib one cannot. Migrations are named functions applied in order; the applied version is
kept in store_meta.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlmodel import SQLModel

from framework.errors import ConfigurationError, StoreError
from framework.memory.records import AuditEvent, MemoryEntry, PendingWrite, StoreMeta, UserSettings


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


def open_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        raise ConfigurationError(
            f"database_url {url!r}: only sqlite URLs are supported by this version "
            "(set FRAMEWORK_DATABASE_URL=sqlite:///path/to/memory.db or leave it unset)"
        )
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


def migration_001_initial(conn: Connection, dim: int) -> None:
    SQLModel.metadata.create_all(
        conn,
        tables=[MemoryEntry.__table__, AuditEvent.__table__, StoreMeta.__table__],  # type: ignore[attr-defined]
    )
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS memory_vec USING vec0("
        f"user_id text partition key, embedding float[{dim}] distance_metric=cosine)"
    )
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5("
        "content, user_id UNINDEXED, tokenize='porter unicode61')"
    )
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_user_status ON memory(user_id, status)")


def migration_002_pending_and_consent(conn: Connection, dim: int) -> None:
    SQLModel.metadata.create_all(
        conn,
        tables=[PendingWrite.__table__, UserSettings.__table__],  # type: ignore[attr-defined]
    )


def owner_token(user_id: str) -> str:
    """One word that stands for a user in the lexical index: a lexical search looks only at that
    user's rows instead of every user's matches (the user_id filter still follows, exactly)."""
    return "o" + hashlib.blake2b(user_id.encode(), digest_size=10).hexdigest()


def migration_003_lexical_owner(conn: Connection, dim: int) -> None:
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE memory_fts_owned USING fts5("
        "content, user_id UNINDEXED, owner, tokenize='porter unicode61')"
    )
    users = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT user_id FROM memory").fetchall()]
    for user in users:  # what was indexed: the active memories
        conn.exec_driver_sql(
            "INSERT INTO memory_fts_owned(rowid, content, user_id, owner) "
            "SELECT id, content, user_id, ? FROM memory WHERE user_id = ? AND status = 'active'",
            (owner_token(user), user),
        )
    conn.exec_driver_sql("DROP TABLE memory_fts")
    conn.exec_driver_sql("ALTER TABLE memory_fts_owned RENAME TO memory_fts")


MIGRATIONS: list[Callable[[Connection, int], None]] = [
    migration_001_initial,
    migration_002_pending_and_consent,
    migration_003_lexical_owner,
]


def migrate(engine: Engine, embedder_name: str, dim: int) -> None:
    """Bring the schema up to date and check the store's embedder matches the configured one."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
        )
        meta: dict[str, str] = dict(conn.exec_driver_sql("SELECT key, value FROM store_meta").fetchall())
        version = int(meta.get("schema_version", 0))
        for number, migration in enumerate(MIGRATIONS, 1):
            if number > version:
                migration(conn, int(meta.get("embedding_dim", dim)))
                _set(conn, "schema_version", str(number))
        stored = meta.get("embedder")
        if stored is None:
            _set(conn, "embedder", embedder_name)
            _set(conn, "embedding_dim", str(dim))
        elif stored != embedder_name:
            raise StoreError(
                f"this memory store's vectors were made by embedder {stored!r}, but the configured "
                f"embedder is {embedder_name!r}. Configure the embedder that made the store "
                "(--embedder / FRAMEWORK_EMBEDDER), or move the store to the new one with "
                "`framework memory reembed --embedder <spec>`."
            )


def _set(conn: Connection, key: str, value: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO store_meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
