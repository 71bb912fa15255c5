"""What differs between the databases the long-term store runs on: SQLite (the embedded default:
sqlite-vec and FTS5) and PostgreSQL (scale-out: pgvector and Postgres full-text search).

The memory, audit and settings tables are the same SQLModel models on both. What a backend owns
is the rest: opening an engine, the two search indexes (a vector table `memory_vec` keyed by
`memory_id` and a lexical table `memory_fts` keyed by `rowid`, the memory's id, each carrying its
`user_id`), how new
memory rows get their ids, and the few statements whose SQL is the database's own.

Plain SQL elsewhere is written once, with `?` placeholders, and run through `execute`, which
rewrites it for drivers that use `%s`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, CursorResult, Engine

from framework.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.util.typing import TupleAny, Unpack

Row = tuple[Any, ...]
LARGE_IMPORT = 1000  # memories in one add_many after which the backend tidies up (`imported`)


class Backend:
    """One database's search indexes and SQL. Subclasses: SQLiteBackend, PostgresBackend."""

    name: str

    def open(self, url: str) -> Engine:
        raise NotImplementedError

    def unindexed(self, column: str) -> str:
        """`column` as an expression the planner will not look up in an index: a correlated lookup
        of a memory's neighbours must walk the few rows of its id range, not every row of the user."""
        raise NotImplementedError

    def create_indexes(self, conn: Connection, dim: int) -> None:
        """The vector and lexical index tables of an empty store (schema version 1)."""
        raise NotImplementedError

    def scope_lexical_by_user(self, conn: Connection) -> None:
        """Schema version 3: a lexical search looks at one user's rows only."""
        raise NotImplementedError

    def stripe_vectors(self, conn: Connection, dim: int) -> None:
        """Schema version 4: the vector index as the backend searches it now."""
        raise NotImplementedError

    def never_reuse_ids(self, conn: Connection) -> None:
        """Schema version 5: a memory id, once used, is never given to another memory."""
        raise NotImplementedError

    def recreate_vectors(self, conn: Connection, dim: int) -> None:
        """Drop the vector index and make an empty one of `dim` dimensions (re-embedding)."""
        raise NotImplementedError

    def insert_memories(
        self,
        conn: Connection,
        insert: str,
        given: list[Row],
        fresh: list[Row],
        assign: Callable[[list[int]], None],
    ) -> None:
        """Insert memory rows: `given` carry their ids; each of `fresh` (id column None) gets a
        new id, and `assign(ids)` is told them, in the order of `fresh`."""
        raise NotImplementedError

    def index(self, conn: Connection, rows: Sequence[tuple[int, str, str, Sequence[float]]]) -> None:
        """Add (id, user_id, content, vector) rows to both indexes."""
        self.index_vectors(conn, [(mid, user, vector) for mid, user, _content, vector in rows])
        self.index_text(conn, [(mid, user, content) for mid, user, content, _vector in rows])

    def imported(self, conn: Connection) -> None:
        """After a large import (LARGE_IMPORT memories or more): whatever keeps searches fast
        (nothing by default)."""

    def index_vectors(self, conn: Connection, rows: Sequence[tuple[int, str, Sequence[float]]]) -> None:
        raise NotImplementedError

    def index_text(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        raise NotImplementedError

    def unindex(self, conn: Connection, ids: Sequence[int]) -> None:
        """Take memories out of both indexes: what is not indexed is never recalled."""
        if ids:
            execute(conn, "DELETE FROM memory_vec WHERE memory_id = ?", [(mid,) for mid in ids])
            execute(conn, "DELETE FROM memory_fts WHERE rowid = ?", [(mid,) for mid in ids])

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        """The user's k nearest indexed memories: (id, cosine distance), nearest first."""
        raise NotImplementedError

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """The user's k best lexical matches of any of the terms: (id, positive score), best first."""
        raise NotImplementedError


def execute(conn: Connection, statement: str, params: Any = None) -> CursorResult[Unpack[TupleAny]]:
    """Run plain SQL written with `?` placeholders on any backend (a list of tuples: many rows)."""
    if params and conn.dialect.paramstyle != "qmark":
        statement = _format_style(statement)
    return conn.exec_driver_sql(statement, params if params else None)


@lru_cache(maxsize=256)
def _format_style(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


_BACKENDS: dict[str, Backend] = {}


def backend_for(target: Engine | Connection | str) -> Backend:
    """The backend of an engine, a connection or a database URL."""
    if isinstance(target, str):
        scheme = target.split(":", 1)[0].split("+", 1)[0]
        name = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}.get(scheme)
        if name is None:
            raise ConfigurationError(
                f"database_url {target!r}: unsupported database {scheme!r}. Use "
                "sqlite:///path/to/memory.db (the default) or postgresql://user:password@host/dbname "
                "(FRAMEWORK_DATABASE_URL or database_url in config.yaml)"
            )
    else:
        name = target.dialect.name
    if name not in _BACKENDS:
        if name == "sqlite":
            from framework.memory.longterm.backends.sqlite import SQLiteBackend

            _BACKENDS[name] = SQLiteBackend()
        elif name == "postgresql":
            from framework.memory.longterm.backends.postgres import PostgresBackend

            _BACKENDS[name] = PostgresBackend()
        else:  # pragma: no cover - only engines made by open_engine reach here
            raise ConfigurationError(f"no memory backend for database {name!r}")
    return _BACKENDS[name]
