"""A user's vectors in process memory, checked against the store on every use.

The exact nearest-neighbour scan of a small user (at most EXACT_UP_TO memories, most users) in
SQL calls sqlite-vec's cosine once per row: ~1.2 ms for 1,000 memories, a quarter of a turn's
runtime before the answer request leaves. The same scan over a matrix of unit vectors in numpy is
one matrix-vector product (~0.05 ms). The store stays the truth: each search first reads the
user's signature from `memory_vec` — how many vectors, the highest id, the sum of the ids (an
index walk of the user's slot range that never reads a vector) — and uses the cached matrix only
when it matches. Ids are never reused, so a new memory raises the highest id and the sum, a
deleted one lowers the count: either makes the cache stale. New rows alone (the common change:
the previous turn's memories) are read and appended; anything else reloads the user's vectors.
Re-embedding the store (`recreate_vectors`) forgets the engine's cache.

The cache is bounded (MAX_BYTES over all stores and users, least recently used out first) and
keyed by engine, held weakly: a closed store's vectors go with it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

MAX_BYTES = 64 * 1024 * 1024

Signature = tuple[int, int, int]  # (vectors, highest id, sum of ids)


@dataclass(frozen=True)
class UserVectors:
    signature: Signature
    ids: np.ndarray  # int64, one per row of `unit`
    unit: np.ndarray  # float32, each row a unit vector (a zero vector stays zero)

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.unit.nbytes)


def _unit(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


class VectorCache:
    """Users' unit vectors by (engine, user), validated by their signature in the store."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._tokens: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
        self._next = count()
        self._entries: OrderedDict[tuple[int, str], UserVectors] = OrderedDict()
        self._bytes = 0

    def _key(self, engine: Engine, user_id: str) -> tuple[int, str]:
        token = self._tokens.get(engine)
        if token is None:
            token = self._tokens[engine] = next(self._next)
            weakref.finalize(engine, self._drop_token, token)
        return token, user_id

    def _drop_token(self, token: int) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == token]:
                self._bytes -= self._entries.pop(key).nbytes

    def forget(self, engine: Engine) -> None:
        """Drop every user's vectors of this engine's store (its vectors were rebuilt)."""
        with self._lock:
            token = self._tokens.pop(engine, None)
        if token is not None:
            self._drop_token(token)

    def vectors(
        self,
        conn: Connection,
        user_id: str,
        signature: Signature,
        rows_after: Any,  # (conn, user_id, after_id) -> [(memory_id, float32 blob)] in id order
        dim: int,
    ) -> UserVectors:
        """The user's vectors as the store holds them now (`signature` was just read)."""
        with self._lock:
            key = self._key(conn.engine, user_id)
            known = self._entries.get(key)
            if known is not None:
                self._entries.move_to_end(key)
        if known is not None and known.signature == signature and known.unit.shape[1:] == (dim,):
            return known
        fresh = None
        if known is not None and known.unit.shape[1:] == (dim,) and signature[1] > known.signature[1]:
            fresh = self._appended(known, signature, rows_after(conn, user_id, known.signature[1]), dim)
        if fresh is None:
            rows = rows_after(conn, user_id, 0)
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            fresh = UserVectors(signature, ids, _unit([r[1] for r in rows], dim))
            if (len(rows), int(ids.max(initial=0)), int(ids.sum())) != signature:
                return fresh  # the store changed between the two reads: answer, do not keep
        self._keep(key, fresh)
        return fresh

    @staticmethod
    def _appended(
        known: UserVectors, signature: Signature, new: Sequence[Any], dim: int
    ) -> UserVectors | None:
        """The cached vectors with the new rows appended, if new rows are all that changed."""
        count_, _highest, total = known.signature
        added = sum(r[0] for r in new)
        expected = (count_ + len(new), max((r[0] for r in new), default=known.signature[1]), total + added)
        if not new or expected != signature:
            return None
        ids = np.concatenate([known.ids, np.fromiter((r[0] for r in new), dtype=np.int64, count=len(new))])
        return UserVectors(signature, ids, np.vstack([known.unit, _unit([r[1] for r in new], dim)]))

    def _keep(self, key: tuple[int, str], entry: UserVectors) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if entry.nbytes > self.max_bytes:
                return
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes:
                _key, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes


def nearest(vectors: UserVectors, query: Sequence[float], k: int) -> list[tuple[int, float]]:
    """(memory id, cosine distance) of the k nearest, nearest first (ties by id), as
    sqlite-vec's vec_distance_cosine would rank them."""
    if not len(vectors.ids) or k <= 0:
        return []
    q = np.asarray(query, dtype=np.float32)
    norm = float(np.linalg.norm(q))
    q_unit = q if norm == 0.0 else q / norm
    distance = 1.0 - vectors.unit @ q_unit
    picked = np.argpartition(distance, k - 1)[:k] if k < len(distance) else np.arange(len(distance))
    order = sorted(picked.tolist(), key=lambda i: (float(distance[i]), int(vectors.ids[i])))
    return [(int(vectors.ids[i]), float(distance[i])) for i in order]
