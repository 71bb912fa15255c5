"""What differs between the databases the long-term store runs on: SQLite (the embedded default:
sqlite-vec and FTS5) and PostgreSQL (scale-out: pgvector and Postgres full-text search).

The memory, audit and settings tables are the same SQLModel models on both. What a backend owns
is the rest: opening an engine, the two search indexes (a vector table `memory_vec` keyed by
`memory_id` and a lexical table `memory_fts` keyed by `rowid`, the memory's id, each carrying its
`user_id`), how new
memory rows get their ids, and the few statements whose SQL is the database's own.

Plain SQL elsewhere is written once, with `?` placeholders, and run through `execute`, which
rewrites it for drivers that use `%s`.

Every write goes through `write_transaction` (a Connection) or `write_session` (an ORM Session):
on SQLite the transaction takes the database's one write lock as it begins (BEGIN IMMEDIATE),
retried with exponential backoff and full jitter for at most WRITE_DEADLINE_S (the backend's
`begin` listener). A write that read first and took the lock later could fail at once, whatever
the busy timeout, when another process committed in between; one that holds the lock from its
first statement cannot. Contention past the deadline is `StoreBusy`, with advice, never a raw
driver error. Reads begin deferred: under WAL they see the last commit whole and never wait.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, CursorResult, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from framework.errors import ConfigurationError, StoreBusy

if TYPE_CHECKING:
    from sqlalchemy.util.typing import TupleAny, Unpack

Row = tuple[Any, ...]
LARGE_IMPORT = 1000  # memories in one add_many after which the backend tidies up (`imported`)
# A write waits at most this long for other writers (then StoreBusy). Each attempt to take the
# lock waits up to ATTEMPT_WAIT_S inside the database; between attempts the writer sleeps a random
# time up to BACKOFF_FIRST_S * 2**attempt, at most BACKOFF_MAX_S (exponential, full jitter).
WRITE_DEADLINE_S = 30.0
ATTEMPT_WAIT_S = 0.1
BACKOFF_FIRST_S = 0.005
BACKOFF_MAX_S = 0.2


class Backend:
    """One database's search indexes and SQL. Subclasses: SQLiteBackend, PostgresBackend."""

    name: str

    def open(self, url: str) -> Engine:
        raise NotImplementedError

    def writer(self, engine: Engine) -> Engine:
        """`engine` as writes use it (see the module's docstring). By default `engine` itself:
        PostgreSQL locks rows, not the database, and makes a writer wait for a row it needs."""
        return engine

    def contended(self, error: BaseException) -> bool:
        """Whether a driver error means other connections held what this one needed."""
        return False

    def busy_advice(self, database: str, waited_s: float | None = None) -> str:
        """StoreBusy's message: what was contended, for how long, and what to do about it."""
        waited = "" if waited_s is None else f" for {waited_s:.0f} s"
        return f"the memory store {database} stayed busy{waited}: try again, or run fewer writers"

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

    def lexical_words_per_user(self, conn: Connection) -> None:
        """Make the lexical index count each word per user (a backend whose index already does:
        nothing to do)."""

    def stripe_vectors(self, conn: Connection, dim: int) -> None:
        """Schema version 4: the vector index as the backend searches it now."""
        raise NotImplementedError

    def never_reuse_ids(self, conn: Connection) -> None:
        """Schema version 5: a memory id, once used, is never given to another memory."""
        raise NotImplementedError

    def ensure_indexes(self, conn: Connection) -> None:
        """At every open, after the migrations: build a search index the store lacks (one added
        to the backend after the store was made); cheap when they all exist. Nothing by default."""

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

    def erase(self, conn: Connection, ids: Sequence[int]) -> bool:
        """Take memories being deleted out of both indexes, leaving none of their words in the
        index structures; True when deletions before this one may have left some (then `compact`
        should be thorough). By default what `unindex` does: a deleted row is gone."""
        self.unindex(conn, ids)
        return False

    def compact(self, engine: Engine, thorough: bool = False) -> bool:
        """After an erasure committed, make the database's files hold none of the erased bytes;
        False when that could not be done now. By default nothing: PostgreSQL's dead rows are the
        server's (vacuumed by it; see README "Security")."""
        return True

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        """The user's k nearest indexed memories: (id, cosine distance), nearest first."""
        raise NotImplementedError

    def begin_nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> Callable[[], list[tuple[int, float]]]:
        """Start `nearest`; what it returns finishes it on the same connection. A backend whose
        search has a part that needs no connection (a scan of vectors held in process memory)
        runs that part in a worker thread meanwhile, so that the caller can use the connection
        for the lexical search in the same time. By default the search runs at once."""
        found = self.nearest(conn, user_id, vector, k)
        return lambda: found

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """The user's k best lexical matches of any of the terms: (id, positive score), best first."""
        raise NotImplementedError


def writer(engine: Engine) -> Engine:
    """The engine through which `engine`'s store is written (Backend.writer)."""
    return backend_for(engine).writer(engine)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction on a Connection: the write lock taken as it begins (waiting for other
    writers at most WRITE_DEADLINE_S), committed at the end of the block, rolled back on an error.
    Raises StoreBusy, never the driver's error, when other writers held the store too long."""
    with _as_store_busy(engine), writer(engine).begin() as conn:
        yield conn


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """An ORM Session whose transaction is a write as `write_transaction`'s (commit it yourself)."""
    with _as_store_busy(engine), Session(writer(engine)) as session:
        yield session


@contextmanager
def _as_store_busy(engine: Engine) -> Iterator[None]:
    """A contention error the retried BEGIN did not absorb (e.g. a commit of a store whose file
    system has no WAL) as StoreBusy."""
    try:
        yield
    except DBAPIError as exc:
        backend = backend_for(engine)
        if exc.orig is None or not backend.contended(exc.orig):
            raise
        raise StoreBusy(backend.busy_advice(str(engine.url.database))) from exc


def take_write_lock(
    attempt: Callable[[float], None],
    contended: Callable[[BaseException], bool],
    advice: Callable[[float], str],
    deadline_s: float | None = None,
) -> None:
    """Call `attempt(wait_s)`, one try at the write lock that may wait up to wait_s inside the
    database, until it succeeds: after each contended try sleep (exponential backoff, full jitter:
    writers that collided do not retry in step) and try again, for at most `deadline_s` (by
    default WRITE_DEADLINE_S) in all; then StoreBusy(advice(seconds waited))."""
    deadline = WRITE_DEADLINE_S if deadline_s is None else deadline_s
    started = time.monotonic()
    for tries in itertools.count():
        try:
            attempt(max(0.0, min(ATTEMPT_WAIT_S, deadline - (time.monotonic() - started))))
            return
        except Exception as exc:
            if not contended(exc):
                raise
            last = exc
        left = deadline - (time.monotonic() - started)
        if left <= 0:
            raise StoreBusy(advice(time.monotonic() - started)) from last
        time.sleep(min(left, random.uniform(0.0, min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**tries))))


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
