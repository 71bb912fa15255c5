"""SQLite's vector tables (see sqlite.py for how a search uses them): `memory_vec`, each memory's
float32 vector clustered by user (its key, `slot`, is the user's bucket above the memory id);
`memory_vec_users`, each user's signature kept by triggers in the transaction of every vector write
(what vectors held in process memory are checked against: vector_cache.py); `memory_vec_bits`, the
vec0 index of sign bits partitioned by user and striped, for a user too large to hold; and the
schema 1-3 vec0 table of float vectors that older stores are moved from."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from framework.log import logger
from framework.memory.longterm.backends import vector_cache

STRIPES = 16


def pack(vector: Sequence[float]) -> bytes:
    """A vector as sqlite-vec takes it: little float32s."""
    return struct.pack(f"{len(vector)}f", *vector)


def padding(dim: int) -> bytes:
    """Zero float32s that make `dim` a whole number of bytes of sign bits."""
    return b"\0" * 4 * (-dim % 8)


def pack_for_bits(vector: Sequence[float]) -> bytes:
    """The float32s padded with zeros to a whole number of bytes of sign bits."""
    return pack(vector) + padding(len(vector))


def stripe(user_id: str, memory_id: int) -> str:
    """The vec0 partition of one memory: its user, and one of STRIPES stripes of that user."""
    return f"{user_id}#{memory_id % STRIPES}"


def bits_table(conn: Connection, dim: int) -> None:
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE memory_vec_bits USING vec0("
        f"stripe text partition key, embedding bit[{dim + (-dim % 8)}], chunk_size=1024)"
    )
    # sqlite-vec 0.1.9 looks a partition's chunks up by scanning its chunk table; an index on the
    # partition column makes a write or search of one user independent of how many users there are
    # (multi-user ingest 2.5k -> 17k rows/s). The column is sqlite-vec's own: if a later version
    # renames it, the store works unindexed.
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(
                "CREATE INDEX memory_vec_bits_partition ON memory_vec_bits_chunks(partition00)"
            )
    except DBAPIError as exc:
        logger.warning("sqlite-vec chunk index not created (%s); vector writes are slower", exc.orig)


SLOT_BITS = 40  # memory ids below 2**40; user buckets (22 bits) above them


def bucket(user_id: str) -> int:
    """The first slot of the user's range in memory_vec (users may share a bucket: the user_id
    column still tells them apart)."""
    return (int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=3).digest()) >> 2) << SLOT_BITS


def float_table(conn: Connection, name: str = "memory_vec") -> None:
    conn.exec_driver_sql(
        f"CREATE TABLE {name} (slot INTEGER PRIMARY KEY, memory_id INTEGER NOT NULL UNIQUE, "
        "user_id TEXT NOT NULL, embedding BLOB NOT NULL)"
    )


# Each user's vector count, highest id written, sum of ids and count of in-place changes, kept by
# triggers in the transaction of every write to memory_vec: the signature a user's vectors held in
# process memory are checked against (vector_cache.py), one row read by key. A user's row goes
# when their last vector does (an erased user leaves no trace here).
COUNTS = (
    "CREATE TABLE IF NOT EXISTS memory_vec_users (user_id TEXT PRIMARY KEY, vectors INTEGER NOT NULL, "
    "highest INTEGER NOT NULL, id_sum INTEGER NOT NULL, changes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS memory_vec_added AFTER INSERT ON memory_vec BEGIN "
    "INSERT INTO memory_vec_users (user_id, vectors, highest, id_sum) "
    "VALUES (new.user_id, 1, new.memory_id, new.memory_id) ON CONFLICT (user_id) DO UPDATE SET "
    "vectors = vectors + 1, highest = max(highest, excluded.highest), id_sum = id_sum + excluded.id_sum; END",
    "CREATE TRIGGER IF NOT EXISTS memory_vec_removed AFTER DELETE ON memory_vec BEGIN "
    "UPDATE memory_vec_users SET vectors = vectors - 1, id_sum = id_sum - old.memory_id "
    "WHERE user_id = old.user_id; "
    "DELETE FROM memory_vec_users WHERE user_id = old.user_id AND vectors <= 0; END",
    "CREATE TRIGGER IF NOT EXISTS memory_vec_changed AFTER UPDATE ON memory_vec BEGIN "
    "UPDATE memory_vec_users SET vectors = vectors - 1, id_sum = id_sum - old.memory_id "
    "WHERE user_id = old.user_id; "
    "INSERT INTO memory_vec_users (user_id, vectors, highest, id_sum, changes) "
    "VALUES (new.user_id, 1, new.memory_id, new.memory_id, 1) ON CONFLICT (user_id) DO UPDATE SET "
    "vectors = vectors + 1, highest = max(highest, excluded.highest), id_sum = id_sum + excluded.id_sum, "
    "changes = changes + 1; "
    "DELETE FROM memory_vec_users WHERE user_id = old.user_id AND vectors <= 0; END",
)
TRIGGERS = ("memory_vec_added", "memory_vec_removed", "memory_vec_changed")


def vector_counts(conn: Connection) -> None:
    """The per-user counts and their triggers, made (and filled from memory_vec) where missing."""
    have = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'memory_vec'"
        )
    }
    if have >= set(TRIGGERS):
        return
    made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'memory_vec'")
    if "VIRTUAL" in (made.scalar() or "VIRTUAL").upper():  # schema 1-3's vec0 table: no counts kept
        return
    conn.exec_driver_sql(COUNTS[0])
    conn.exec_driver_sql("DELETE FROM memory_vec_users")
    conn.exec_driver_sql(
        "INSERT INTO memory_vec_users (user_id, vectors, highest, id_sum) "
        "SELECT user_id, count(*), max(memory_id), sum(memory_id) FROM memory_vec GROUP BY user_id"
    )
    for statement in COUNTS[1:]:
        conn.exec_driver_sql(statement)


def user_signature(conn: Connection, user_id: str) -> vector_cache.Signature:
    row = conn.exec_driver_sql(
        "SELECT vectors, highest, id_sum, changes FROM memory_vec_users WHERE user_id = ?", (user_id,)
    ).first()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3])) if row else (0, 0, 0, 0)


def rows_after(conn: Connection, user_id: str, after: int) -> Any:
    """The user's (memory id, float32 vector) rows with ids above `after`, in id order (streamed)."""
    first = bucket(user_id)
    return conn.exec_driver_sql(
        "SELECT memory_id, embedding FROM memory_vec "
        "WHERE slot BETWEEN ? AND ? AND user_id = ? ORDER BY slot",
        (first + after + 1, first + (1 << SLOT_BITS) - 1, user_id),
    )


def rows_of(conn: Connection, user_id: str, ids: Sequence[int]) -> list[Any]:
    """The user's (memory id, float32 vector) rows of these ids (by slot: the primary key)."""
    first = bucket(user_id)
    return list(
        conn.exec_driver_sql(
            f"SELECT memory_id, embedding FROM memory_vec WHERE slot IN ({','.join('?' * len(ids))}) "
            "AND user_id = ?",
            (*(first + mid for mid in ids), user_id),
        ).fetchall()
    )


# The candidates: each stripe's k nearest (sqlite-vec runs the KNN once per value of the IN list,
# k applying to each), then exact cosine over them.
NEAREST = (
    "WITH coarse AS MATERIALIZED (SELECT rowid FROM memory_vec_bits "
    "WHERE embedding MATCH vec_quantize_binary(?) AND k = ? "
    f"AND stripe IN ({', '.join('?' * STRIPES)})) "
    "SELECT v.memory_id, vec_distance_cosine(v.embedding, ?) AS distance "
    "FROM coarse JOIN memory_vec v ON v.slot = ? + coarse.rowid AND v.user_id = ? "
    "ORDER BY distance LIMIT ?"
)


def vector_table_v1(dim: int) -> str:
    """Schema 1-3: one vec0 table of float vectors partitioned by user (an exact scan)."""
    return (
        "CREATE VIRTUAL TABLE IF NOT EXISTS memory_vec USING vec0("
        f"user_id text partition key, embedding float[{dim}] distance_metric=cosine)"
    )
