"""L3 long-term memory: facts, preferences, outcomes and constraints of each user, kept in SQLite
(sqlite-vec + FTS5) or PostgreSQL (pgvector + full-text search), every change audited.

`store` (storage and lifecycle writes, structured retrieval), `audit` (the audit trail, recalls
audited in batches), `erasure` (hard deletion, a user's erasure), `search` (hybrid search that
explains itself), `relevance` (query signals), `lifecycle` (forgetting cycle, re-embedding),
`migrations` (opening the database, schema migrations), `records` (the tables), `backends/` (what
differs per database).
"""

from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import (
    AuditEvent,
    MemoryEntry,
    MemoryJob,
    MemorySource,
    MemoryStatus,
    MemoryType,
)
from framework.memory.longterm.search import SearchQuery, SearchResult
from framework.memory.longterm.store import LongTermMemory
from framework.ranking import RankWeights

__all__ = [
    "AuditEvent",
    "LongTermMemory",
    "MemoryEntry",
    "MemoryJob",
    "MemorySource",
    "MemoryStatus",
    "MemoryType",
    "RankWeights",
    "SearchQuery",
    "SearchResult",
    "migrate",
    "open_engine",
]
