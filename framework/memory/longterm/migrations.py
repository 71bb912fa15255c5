"""Opening the store's database (SQLite by default, PostgreSQL by URL) and schema migrations.

Migrations are named functions applied in order; the applied version is kept in store_meta. What
differs between databases (the search index tables) is the backend's (framework.memory.longterm.backends).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel

from framework.errors import StoreError
from framework.memory.longterm.backends import backend_for, execute, write_transaction
from framework.memory.longterm.records import (
    ApiKey,
    AuditEvent,
    MemoryEntry,
    MemoryJob,
    PendingWrite,
    StoreMeta,
    UserSettings,
)


def open_engine(url: str) -> Engine:
    """An engine for `url`: sqlite:///path (the default) or postgresql://user:password@host/db."""
    return backend_for(url).open(url)


def migration_001_initial(conn: Connection, dim: int) -> None:
    SQLModel.metadata.create_all(
        conn,
        tables=[MemoryEntry.__table__, AuditEvent.__table__, StoreMeta.__table__],  # type: ignore[attr-defined]
    )
    backend_for(conn).create_indexes(conn, dim)
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_user_status ON memory(user_id, status)")


def migration_002_pending_and_consent(conn: Connection, dim: int) -> None:
    SQLModel.metadata.create_all(
        conn,
        tables=[PendingWrite.__table__, UserSettings.__table__],  # type: ignore[attr-defined]
    )


def migration_003_lexical_owner(conn: Connection, dim: int) -> None:
    backend_for(conn).scope_lexical_by_user(conn)


def migration_004_striped_vectors(conn: Connection, dim: int) -> None:
    backend_for(conn).stripe_vectors(conn, dim)


def migration_005_ids_never_reused(conn: Connection, dim: int) -> None:
    backend_for(conn).never_reuse_ids(conn)


def migration_006_provenance(conn: Connection, dim: int) -> None:
    """memory.origin: where a memory's words came from (a new store has it from migration 001)."""
    if "origin" not in {c["name"] for c in inspect(conn).get_columns("memory")}:
        conn.exec_driver_sql("ALTER TABLE memory ADD COLUMN origin VARCHAR")


def migration_007_memory_jobs(conn: Connection, dim: int) -> None:
    """memory_job: memory work that failed in its turn, kept to be retried (framework.memory.jobs)."""
    SQLModel.metadata.create_all(conn, tables=[MemoryJob.__table__])  # type: ignore[attr-defined]


def migration_008_api_keys(conn: Connection, dim: int) -> None:
    """api_key: keys of MCP clients over HTTP, one user each (framework.serve.keys). Idempotent:
    create_all skips a table that exists."""
    SQLModel.metadata.create_all(conn, tables=[ApiKey.__table__])  # type: ignore[attr-defined]


def migration_009_memory_job_claims(conn: Connection, dim: int) -> None:
    """memory_job.claimed_by / claimed_at: which worker runs a job, so a job whose process died is
    run again and no two workers run one user's jobs at once (a new store has them from 007)."""
    columns = {c["name"] for c in inspect(conn).get_columns("memory_job")}
    if "claimed_by" not in columns:
        conn.exec_driver_sql("ALTER TABLE memory_job ADD COLUMN claimed_by VARCHAR NOT NULL DEFAULT ''")
    if "claimed_at" not in columns:
        conn.exec_driver_sql("ALTER TABLE memory_job ADD COLUMN claimed_at TIMESTAMP")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_memory_job_status ON memory_job (status, user_id)")


def migration_010_lexical_words_per_user(conn: Connection, dim: int) -> None:
    """The lexical index counts a word's memories per user, not over every user's (SQLite: each
    word indexed under its user's prefix; PostgreSQL's BM25 already counts per user)."""
    backend_for(conn).lexical_words_per_user(conn)


MIGRATIONS: list[Callable[[Connection, int], None]] = [
    migration_001_initial,
    migration_002_pending_and_consent,
    migration_003_lexical_owner,
    migration_004_striped_vectors,
    migration_005_ids_never_reused,
    migration_006_provenance,
    migration_007_memory_jobs,
    migration_008_api_keys,
    migration_009_memory_job_claims,
    migration_010_lexical_words_per_user,
]


def migrate(engine: Engine, embedder_name: str, dim: int) -> None:
    """Bring the schema up to date and check the store's embedder matches the configured one."""
    # One transaction, DDL included (PostgreSQL's DDL is transactional; SQLite's is once the
    # backend begins transactions itself): a migration that fails leaves the store as it was.
    # A write transaction: processes opening an old store at once migrate it one after the other.
    with write_transaction(engine) as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
        )
        meta: dict[str, str] = {k: v for k, v in conn.exec_driver_sql("SELECT key, value FROM store_meta")}
        version = int(meta.get("schema_version", 0))
        for number, migration in enumerate(MIGRATIONS, 1):
            if number > version:
                migration(conn, int(meta.get("embedding_dim", dim)))
                set_meta(conn, "schema_version", str(number))
        backend_for(conn).ensure_indexes(conn)
        stored = meta.get("embedder")
        if stored is None:
            set_meta(conn, "embedder", embedder_name)
            set_meta(conn, "embedding_dim", str(dim))
        elif stored != embedder_name:
            raise StoreError(
                f"this memory store's vectors were made by embedder {stored!r}, but the configured "
                f"embedder is {embedder_name!r}. Configure the embedder that made the store "
                "(--embedder / FRAMEWORK_EMBEDDER), or move the store to the new one with "
                "`framework memory reembed --embedder <spec>`."
            )


def set_meta(conn: Connection, key: str, value: str) -> None:
    execute(
        conn,
        "INSERT INTO store_meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
