"""The long-term store's tables: MemoryEntry (the seed's schema) and the append-only audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from framework.clock import utcnow


class MemoryType(StrEnum):
    fact = "fact"
    preference = "preference"
    outcome = "outcome"
    constraint = "constraint"


class MemorySource(StrEnum):
    explicit = "explicit"  # the user said it
    inferred = "inferred"  # the model concluded it from the conversation
    learned = "learned"  # the runtime learned it from an outcome
    merged = "merged"  # the result of merging or refining memories
    tool = "tool"  # a tool's result said it: data, never the user's word (see `origin`)


class MemoryStatus(StrEnum):
    active = "active"
    superseded = "superseded"  # kept for the audit trail, never recalled
    forgotten = "forgotten"  # soft-forgotten on request or by policy, never recalled


class MemoryEntry(SQLModel, table=True):
    __tablename__ = "memory"
    # SQLite would hand the id of a deleted newest row to the next one (and its audit trail with
    # it); AUTOINCREMENT never reuses an id. PostgreSQL's sequence never does either.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    content: str
    memory_type: str = Field(default=MemoryType.fact.value, index=True)
    confidence: float = 0.8
    source: str = MemorySource.explicit.value
    status: str = Field(default=MemoryStatus.active.value, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_accessed: datetime | None = None
    access_count: int = 0
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    supersedes: int | None = None
    superseded_by: int | None = None
    valid_until: datetime | None = None
    session_id: str | None = None
    embedder: str | None = None  # which embedder made this memory's vector
    # Where its words came from: "user:<session>/<turn>", "tool:<name>/<call id>" (or
    # "tool:mcp/<server>/<tool>"), "assistant", "skill:<name>", "import", "approval:<pending id>",
    # "mcp:<client>". None for memories written before provenance was kept.
    origin: str | None = None


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    user_id: str = Field(index=True)
    memory_id: int | None = Field(default=None, index=True)
    operation: str  # write | read | reinforce | supersede | forget | reject | adjust | delete
    actor: str = "runtime"  # user | agent | runtime
    reason: str = ""
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class StoreMeta(SQLModel, table=True):
    __tablename__ = "store_meta"

    key: str = Field(primary_key=True)
    value: str


class PendingWrite(SQLModel, table=True):
    """A memory write waiting for a human's approval (when writes need approval)."""

    __tablename__ = "pending_write"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    session_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    action: str  # write | supersede | reinforce | retire: what approval will do
    target: int | None = None  # the existing memory the action is about
    candidate: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    reason: str = ""


class UserSettings(SQLModel, table=True):
    """Per-user memory consent: a user who opted out gets nothing written long-term."""

    __tablename__ = "user_settings"

    user_id: str = Field(primary_key=True)
    opted_out: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class MemoryJob(SQLModel, table=True):
    """A turn's memory work, queued durably when the answer is given and applied after it in the
    background; kept, redacted, and retried when it fails (framework.memory.jobs)."""

    __tablename__ = "memory_job"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    session_id: str
    kind: str = "memorize"
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    attempts: int = 0
    # queued | running (claimed_by a worker) | pending (failed, to retry) | done | failed (gave up)
    status: str = "pending"
    error: str = ""
    claimed_by: str = ""  # host:pid of the worker running it
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A key an MCP client over HTTP presents (`Authorization: Bearer ...`), scoped to one user
    (framework.serve.keys). Only a salted SHA-256 digest of its secret is kept; `key_id` is the
    public part of the key, by which it is found, listed and revoked."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(unique=True, index=True)
    user_id: str = Field(index=True)
    salt: str  # hex, random per key
    digest: str  # hex SHA-256 of salt + secret
    label: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


# --- rows as plain SQL reads and writes them (the hot paths skip the ORM) ---------------------
COLUMNS = [name for name in MemoryEntry.model_fields]
assert COLUMNS[0] == "id"  # backends number new rows by their first column
COLUMN_LIST = ", ".join(COLUMNS)
_TIMES = ("created_at", "last_accessed", "valid_until")


def entry_from_row(row: Any) -> MemoryEntry:
    values = dict(zip(COLUMNS, row, strict=True))
    for name in _TIMES:
        values[name] = as_utc(values[name])
    values["tags"] = stored_tags(values["tags"])
    return MemoryEntry.model_construct(**values)  # trusted columns: skip validation (8x faster)


def stamp(value: datetime) -> str:
    """A timestamp as SQLModel stores it (text, UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def as_utc(value: str | datetime | None) -> datetime | None:
    """A stored timestamp (UTC: text from SQLite, a naive datetime from PostgreSQL) to an aware
    datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stored_tags(value: str | list[str] | None) -> list[str]:
    """Stored tags (JSON text from SQLite, already decoded from PostgreSQL) to a list."""
    if isinstance(value, list):
        return value
    return json.loads(value) if value and value != "[]" else []
