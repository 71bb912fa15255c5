"""The embedded default: one SQLite file, sqlite-vec for vectors, FTS5 for lexical search (BM25
with Porter stemming).

Vectors: `memory_vec` holds each memory's float32 vector (the truth: exact cosine), clustered by
user: its key (`slot`) is the user's bucket (a hash) above the memory id, so that one user's
vectors lie together in the file however the users' writes interleave. Triggers keep each user's
vector count, highest id and sum of ids in `memory_vec_users`, in the transaction of the write:
the signature by which vectors held in process memory are checked on every search
(vector_cache.py). A user with at most EXACT_UP_TO memories (most users) gets the exact answer
from a matrix of their unit vectors held in process memory (~0.2 ms for 1,000 memories, where
sqlite-vec's cosine per row took ~1.3 ms). A larger user's nearest are found in two steps: the
sign bits of their vectors, held in process memory too (48 bytes a 384-d memory), give the
nearest by Hamming distance (XOR and popcount: ~0.5 ms for 100,000 memories), and those
candidates, OVERSAMPLE times what was asked for (at least SHORTLIST), are ranked by exact cosine
from `memory_vec` (binary quantization with rescoring: approximate; recall@30 against exact was
0.92 on 20,000 MiniLM vectors of one user with the striped index below, which took a shortlist of
each stripe instead of one over all). Where the user's int8 codes fit in process memory too (up
to ~240,000 384-d memories) the shortlist is longer (CODED_SHORTLIST), the codes rank it, and
only the best RESCORED * k of it are read from `memory_vec` for the exact cosine: at 100,000
random vectors ANN recall@10 0.44 -> 0.55, a fifth of the rows read. From SCAN_APART_FROM memories the
scan runs in a worker thread while the lexical search has the connection (at 1,000,000: the
recall's p50 0.7x). A user too large to hold (vector_cache.MAX_BYTES) is
searched through `memory_vec_bits`, a vec0 table of the sign bits partitioned by user and, within
a user, into STRIPES stripes by id: each stripe's nearest by Hamming distance (sqlite-vec's top-k
selection costs grow with k, so many small k over stripes beat one large k), rescored the same way.

The stdlib sqlite3 on many Pythons cannot load extensions, so the driver is pysqlite3 where the
stdlib one cannot; with an encryption key it is SQLCipher (framework.memory.encryption). Every
connection runs with secure_delete on (deleted content is overwritten with zeros), and the file
is owner-only (0600; its -wal and -shm take its mode).
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from framework.config import Secret, encryption_key_of, private_dir, private_file
from framework.errors import ConfigurationError
from framework.log import logger
from framework.memory import encryption
from framework.memory.longterm.backends import Backend, Row, execute, take_write_lock, vector_cache
from framework.memory.longterm.backends.sqlite_vectors import (
    NEAREST,
    SLOT_BITS,
    STRIPES,
    bits_table,
    bucket,
    float_table,
    pack,
    pack_for_bits,
    padding,
    rows_after,
    rows_of,
    stripe,
    user_signature,
    vector_counts,
    vector_table_v1,
)
from framework.memory.longterm.backends.sqlite_words import as_users_words, owner_token


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


def _private_store(path: Path, key: Secret | None) -> None:
    """The store's folder and file owner-only (and a -wal or -shm an older version left), and its
    encryption what the settings say, checked before any connection can write to it."""
    private_dir(path.parent, tighten=False)
    encryption.check_store_file(path, key)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        beside = path.with_name(path.name + suffix)
        if beside.exists():
            private_file(beside)


def _processes_with(database: str) -> int:
    """How many processes (this one included) have the file open, as StoreBusy's advice says;
    0 where /proc cannot tell (not Linux, or other users' processes)."""
    target, count = os.path.realpath(database), 0
    for fds in glob.glob("/proc/[0-9]*/fd"):
        with contextlib.suppress(OSError):
            count += any(os.readlink(os.path.join(fds, fd)) == target for fd in os.listdir(fds))
    return count


BUSY_TIMEOUT_MS = 5000  # what any statement waits for a lock; a write's BEGIN sets its own
OVERSAMPLE = 6  # candidates per result asked for, rescored by exact cosine
SHORTLIST = 256  # the fewest candidates a large user's search rescores from the store's rows
# ... when the user's int8 codes are held: those rank the shortlist in process memory, and only the
# RESCORED * k best by them are read from the store and ranked by exact cosine (the codes' cosine
# is off by ~3e-4 on average, 2e-3 at most: the margin lets the exact one settle the k-th place)
CODED_SHORTLIST = 512
RESCORED = 1.5
# A large user's scan of process memory runs in a worker thread, while the caller's lexical search
# has the connection, from this many vectors (~2 ms of scan); below it, handing the scan over and
# back cost about what it saved (100,000 vectors: the p95 got worse).
SCAN_APART_FROM = 200_000
OWNER_SHARE_OVERSAMPLE = 4  # a user holding most of the lexical index: matches ranked per result
EXACT_UP_TO = 2048
REWRITE_CHUNK = 5000  # lexical rows rewritten at a time by a migration
MMAP_BYTES = 256 * 1024 * 1024  # reads of the vector pages through the page cache: ~1.5 ms less


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self) -> None:
        self._shares: dict[tuple[str, str], tuple[float, bool]] = {}  # (store, user) -> (when, most)
        self._vectors = vector_cache.VectorCache()  # small users' vectors for the exact scan

    def unindexed(self, column: str) -> str:
        return f"+{column}"  # unary plus

    def open(self, url: str) -> Engine:
        path = url.split("///", 1)[1] if "///" in url else ""
        key = encryption_key_of(url)
        if path and path != ":memory:":
            _private_store(Path(path), key)
        module = encryption.sqlcipher_module() if key is not None else _sqlite_module()
        engine = create_engine(url, module=module, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            import sqlite_vec

            if key is not None:  # SQLCipher: the key is the first statement of every connection
                encryption.unlock(dbapi_conn, key, path or ":memory:")

            # The driver's own transaction handling begins a transaction only before INSERT,
            # UPDATE or DELETE, so DDL (a migration, a re-embedding) would commit statement by
            # statement; SQLAlchemy's BEGIN (below) makes every transaction whole.
            dbapi_conn.isolation_level = None
            dbapi_conn.enable_load_extension(True)
            sqlite_vec.load(dbapi_conn)
            dbapi_conn.enable_load_extension(False)
            cur = dbapi_conn.cursor()
            # First: switching a new file to WAL needs a moment's exclusive lock (waited for).
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer, nor it for them
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA secure_delete=ON")  # what is deleted is zeroed, not left in free space
            cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A read begins DEFERRED (its snapshot starts at its first read; under WAL it waits for
            # nobody). A write (sqlite_begin="IMMEDIATE": `writer`) takes the write lock as it
            # begins, retried under the write deadline (backends.take_write_lock).
            driver: Any = conn.connection.driver_connection
            mode = conn.get_execution_options().get("sqlite_begin", "")
            if not mode:
                driver.execute("BEGIN")
                return

            def attempt(wait_s: float) -> None:
                driver.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
                try:
                    driver.execute(f"BEGIN {mode}")
                finally:
                    driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

            database, deadline_s = path or ":memory:", conn.get_execution_options().get("write_deadline_s")
            take_write_lock(
                attempt, self.contended, lambda waited: self.busy_advice(database, waited), deadline_s
            )

        return engine

    def writer(self, engine: Engine) -> Engine:
        """Transactions that take the write lock as they begin (BEGIN IMMEDIATE)."""
        return engine.execution_options(sqlite_begin="IMMEDIATE")

    def contended(self, error: BaseException) -> bool:
        """SQLITE_BUSY (another connection holds the lock) or SQLITE_LOCKED, any extended code."""
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in (5, 6)
        return "database is locked" in str(error) or "database is busy" in str(error)

    def busy_advice(self, database: str, waited_s: float | None = None) -> str:
        opened = _processes_with(database)
        who = f"{opened} processes have {database} open" if opened > 1 else f"other writers hold {database}"
        waited = "" if waited_s is None else f"; this write waited {waited_s:.1f} s for its lock"
        return (
            f"the memory store is busy: {who}{waited}. SQLite lets one process write at a time: "
            "for many writers use PostgreSQL (FRAMEWORK_DATABASE_URL=postgresql://...), "
            "or run fewer processes on this store"
        )

    def erase(self, conn: Connection, ids: Sequence[int]) -> bool:
        """Unindex for good. FTS5's secure-delete takes a deleted row's words out of the index's
        segments at once (otherwise they stay there until a merge); sqlite-vec zeroes a deleted
        row's bits in its chunk and drops an emptied chunk, and secure_delete zeroes the rest.
        True when secure-delete was off until now: earlier deletions (forgets, supersessions) may
        have left words in the segments, which 'optimize' rewrites now, and in free pages, which
        `compact(thorough=True)` clears."""
        on = conn.exec_driver_sql("SELECT v FROM memory_fts_config WHERE k = 'secure-delete'").scalar()
        first = str(on) != "1"
        if first:
            conn.exec_driver_sql("INSERT INTO memory_fts(memory_fts, rank) VALUES('secure-delete', 1)")
        self.unindex(conn, ids)
        if first:
            conn.exec_driver_sql("INSERT INTO memory_fts(memory_fts) VALUES('optimize')")
        return first

    def compact(self, engine: Engine, thorough: bool = False) -> bool:
        """After an erasure committed: VACUUM when `thorough` (free pages written before deletions
        were secure), then move the WAL into the database and truncate it, so that no file keeps
        the erased bytes. False, with a warning, when another connection's open read kept the WAL."""
        if engine.url.database in (None, "", ":memory:"):
            return True
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            if thorough:
                driver.execute("VACUUM")
            busy = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            raw.close()
        if busy:
            logger.warning(
                "erasure: another connection is reading %s, so its write-ahead log still holds "
                "erased pages until the next checkpoint",
                engine.url.database,
            )
        return not busy

    def create_indexes(self, conn: Connection, dim: int) -> None:
        conn.exec_driver_sql(vector_table_v1(dim))
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

    def lexical_words_per_user(self, conn: Connection) -> None:
        """Schema 10: every indexed memory's words rewritten as its user's own (see word_prefix)."""
        after = 0
        while rows := conn.exec_driver_sql(  # a chunk at a time: a large store is not held whole
            "SELECT f.rowid, f.user_id, m.content FROM memory_fts f JOIN memory m ON m.id = f.rowid "
            "WHERE f.rowid > ? ORDER BY f.rowid LIMIT ?",
            (after, REWRITE_CHUNK),
        ).fetchall():
            conn.exec_driver_sql(
                "UPDATE memory_fts SET content = ? WHERE rowid = ?",
                [(as_users_words(user, content), mid) for mid, user, content in rows],
            )
            after = rows[-1][0]

    def stripe_vectors(self, conn: Connection, dim: int) -> None:
        """Schema 4: float vectors to a plain table clustered by user, their sign bits to a
        striped vec0 index; streamed from the vec0 table of schema 1-3."""
        float_table(conn, "memory_vec_v4")
        bits_table(conn, dim)
        old = conn.exec_driver_sql("SELECT rowid, user_id, embedding FROM memory_vec")
        while batch := old.fetchmany(5000):
            self._insert_vectors(conn, batch, dim, "memory_vec_v4")
        conn.exec_driver_sql("DROP TABLE memory_vec")
        conn.exec_driver_sql("ALTER TABLE memory_vec_v4 RENAME TO memory_vec")

    def never_reuse_ids(self, conn: Connection) -> None:
        """Rebuild a memory table made without AUTOINCREMENT (schema 1-4) with it, rows and ids
        kept (SQLite cannot add it to a table in place)."""
        made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'memory'")
        if "AUTOINCREMENT" in (made.scalar() or "").upper():
            return
        from framework.memory.longterm.records import COLUMN_LIST, MemoryEntry

        conn.exec_driver_sql("ALTER TABLE memory RENAME TO memory_v4")
        indexes = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'memory_v4' AND sql IS NOT NULL"
        ).fetchall()
        for (name,) in indexes:  # their names are the new table's
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        MemoryEntry.__table__.create(conn)  # type: ignore[attr-defined]
        old = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(memory_v4)")}
        kept = ", ".join(c for c in COLUMN_LIST.split(", ") if c in old)  # later columns come later
        conn.exec_driver_sql(f"INSERT INTO memory ({kept}) SELECT {kept} FROM memory_v4")
        conn.exec_driver_sql("DROP TABLE memory_v4")
        conn.exec_driver_sql("CREATE INDEX ix_memory_user_status ON memory(user_id, status)")

    def recreate_vectors(self, conn: Connection, dim: int) -> None:
        self._vectors.forget(conn.engine)
        conn.exec_driver_sql("DROP TABLE IF EXISTS memory_vec_bits")
        conn.exec_driver_sql("DROP TABLE IF EXISTS memory_vec")  # its triggers with it
        float_table(conn)
        bits_table(conn, dim)
        vector_counts(conn)

    def ensure_indexes(self, conn: Connection) -> None:
        """The per-user vector counts (vector_cache.py's signatures), made and filled from the
        vectors in a store made before them."""
        vector_counts(conn)

    def insert_memories(
        self,
        conn: Connection,
        insert: str,
        given: list[Row],
        fresh: list[Row],
        assign: Callable[[list[int]], None],
    ) -> None:
        """New ids follow each other: the first takes SQLite's next rowid (and the write lock), so
        no other writer can take the ids after it before this transaction ends. Ids stay below
        2**40, the user slot's range in memory_vec."""
        if any(row[0] >= 1 << SLOT_BITS for row in given):
            raise ValueError(f"memory ids must be below 2**{SLOT_BITS}")
        if given:  # ids the caller chose are taken first, so the fresh ones follow them
            conn.exec_driver_sql(insert, given)
        if fresh:
            first = int(conn.exec_driver_sql(insert, fresh[0]).lastrowid)
            assign(list(range(first, first + len(fresh))))
            if len(fresh) > 1:
                conn.exec_driver_sql(insert, [(first + i, *row[1:]) for i, row in enumerate(fresh) if i])

    def imported(self, conn: Connection) -> None:
        """After a large import, move the write-ahead log into the database file: reads of pages
        still in a long log go through its index instead of the memory map, and the log does not
        keep the import's size on disk."""
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def index_vectors(self, conn: Connection, rows: Sequence[tuple[int, str, Sequence[float]]]) -> None:
        if rows:
            self._insert_vectors(conn, [(mid, user, pack(v)) for mid, user, v in rows], len(rows[0][2]))

    @staticmethod
    def _insert_vectors(conn: Connection, rows: Sequence[Any], dim: int, table: str = "memory_vec") -> None:
        """(id, user_id, float32 blob) rows into both vector tables."""
        pad = padding(dim)
        conn.exec_driver_sql(
            f"INSERT INTO {table}(slot, memory_id, user_id, embedding) VALUES (?, ?, ?, ?)",
            [(bucket(user) + mid, mid, user, blob) for mid, user, blob in rows],
        )
        conn.exec_driver_sql(
            "INSERT INTO memory_vec_bits(rowid, stripe, embedding) VALUES (?, ?, vec_quantize_binary(?))",
            [(mid, stripe(user, mid), blob + pad) for mid, user, blob in rows],
        )

    def unindex(self, conn: Connection, ids: Sequence[int]) -> None:
        super().unindex(conn, ids)
        if ids:
            conn.exec_driver_sql("DELETE FROM memory_vec_bits WHERE rowid = ?", [(mid,) for mid in ids])

    def index_text(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        conn.exec_driver_sql(
            "INSERT INTO memory_fts(rowid, content, user_id, owner) VALUES (?, ?, ?, ?)",
            [(mid, as_users_words(user, content), user, owner_token(user)) for mid, user, content in rows],
        )

    @staticmethod
    def _large(conn: Connection, user_id: str) -> bool:
        """Whether the user has more than EXACT_UP_TO active (= indexed) memories."""
        return user_signature(conn, user_id)[0] > EXACT_UP_TO

    def _owns_most(self, conn: Connection, user_id: str) -> bool:
        """Whether the user holds more than half of the store's memories (the highest id bounds
        their number); known for a minute per store, as a share changes slowly."""
        key, now = (str(conn.engine.url), user_id), time.monotonic()
        known = self._shares.get(key)
        if known is not None and now - known[0] < 60:
            return known[1]
        total = conn.exec_driver_sql("SELECT max(id) FROM memory").scalar() or 0
        mine = user_signature(conn, user_id)[0]  # the user's indexed (active) memories
        if len(self._shares) > 10_000:
            self._shares.clear()
        self._shares[key] = (now, mine * 2 > total)
        return mine * 2 > total

    def nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> list[tuple[int, float]]:
        return self.begin_nearest(conn, user_id, vector, k)()

    def begin_nearest(
        self, conn: Connection, user_id: str, vector: Sequence[float], k: int
    ) -> Callable[[], list[tuple[int, float]]]:
        """A small user's exact nearest; a large user's from the shortlist of the bits (and
        codes) held in process memory — scanned in a worker thread meanwhile from SCAN_APART_FROM
        vectors — ranked by exact cosine; a user too large to hold: through the striped vec0
        index (see the module's docstring)."""
        signature, dim = user_signature(conn, user_id), len(vector)
        if signature[0] <= EXACT_UP_TO:
            vectors = self._vectors.vectors(conn, user_id, signature, rows_after, dim)
            found = vector_cache.nearest(vectors, vector, k)
            return lambda: found
        wanted = max(SHORTLIST, OVERSAMPLE * k)
        if self._vectors.fits(signature[0], dim, large=True):
            codes = self._vectors.fits(signature[0], dim, large=True, codes=True)
            bits = self._vectors.bits(conn, user_id, signature, rows_after, dim, codes)
            if codes:
                wanted = max(CODED_SHORTLIST, OVERSAMPLE * k)
            keep = math.ceil(RESCORED * k)
            if signature[0] >= SCAN_APART_FROM:
                scan = vector_cache.scanning(bits, vector, wanted, keep)
                return lambda: vector_cache.rescored(rows_of(conn, user_id, scan.result()), vector, dim, k)
            candidates = vector_cache.shortlist(bits, vector, wanted, keep)
            return lambda: vector_cache.rescored(rows_of(conn, user_id, candidates), vector, dim, k)
        first = bucket(user_id)
        per_stripe = max(16, -(-wanted // STRIPES))
        stripes = [stripe(user_id, i) for i in range(STRIPES)]
        rows = conn.exec_driver_sql(
            NEAREST, (pack_for_bits(vector), per_stripe, *stripes, pack(vector), first, user_id, k)
        ).fetchall()
        found = [(int(r[0]), float(r[1])) for r in rows]
        return lambda: found

    def lexical(self, conn: Connection, user_id: str, terms: list[str], k: int) -> list[tuple[int, float]]:
        """FTS5's BM25 of the content column, on this user's rows only. The search is scoped
        inside FTS5 by the user's owner word, unless the user holds most of a large index: then
        the owner word's list is the longest there is (bm25 walks it whole to count it: 4 ms at
        100,000), and the terms alone are searched. Then reading each match's user_id column to
        filter it costs as much as BM25 itself (7 of 13 ms for ~5,000 matches at 1,000,000): the
        best OWNER_SHARE_OVERSAMPLE * k matches of any user are ranked first and the user's kept,
        which are the user's own best when k of them are among those (scores do not depend on
        the user); otherwise the filtered search runs. In a store of many users, dropping the
        owner word would match every user's rows."""
        if not terms:
            return []
        match = "content : (" + " OR ".join(f'"{as_users_words(user_id, t)}"' for t in terms) + ")"
        if not (self._large(conn, user_id) and self._owns_most(conn, user_id)):
            match = f'owner : "{owner_token(user_id)}" AND {match}'
        else:
            rows = conn.exec_driver_sql(
                "SELECT best.rowid, best.score FROM (SELECT rowid, bm25(memory_fts, 1.0, 0.0, 0.0) AS score "
                "FROM memory_fts WHERE memory_fts MATCH ? ORDER BY score, rowid LIMIT ?) AS best "
                "JOIN memory m ON m.id = best.rowid WHERE m.user_id = ? "
                "ORDER BY best.score, best.rowid LIMIT ?",
                (match, OWNER_SHARE_OVERSAMPLE * k, user_id, k),
            ).fetchall()
            if len(rows) >= k:
                return [(int(r[0]), -float(r[1])) for r in rows]
        rows = conn.exec_driver_sql(
            "SELECT rowid, bm25(memory_fts, 1.0, 0.0, 0.0) AS score FROM memory_fts "
            "WHERE memory_fts MATCH ? AND user_id = ? ORDER BY score, rowid LIMIT ?",
            (match, user_id, k),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]
