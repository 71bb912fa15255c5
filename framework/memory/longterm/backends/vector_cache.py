"""A user's vectors in process memory, checked against the store on every use.

Two forms, by the user's size (the caller chooses):
- a small user's (most users) unit vectors, a float32 matrix: the exact nearest are one
  matrix-vector product (~0.05 ms for 1,000 memories, where sqlite-vec's cosine per row in SQL
  took ~1.2 ms);
- a large user's sign bits, one bit a dimension packed in 64-bit words and stored word-major
  (`UserBits`): the Hamming distance to the query's bits is a few XORs and popcounts over
  contiguous arrays (~0.5 ms for 100,000 memories, ~6 ms for 1,000,000), and the nearest by
  Hamming distance are the shortlist that the caller rescores by exact cosine (binary
  quantization with rescoring). 48 bytes a 384-d memory instead of 1,536.

The store stays the truth. Each search first reads the user's signature — how many vectors, the
highest id written, the sum of the ids, the count of in-place changes — which the store keeps up
to date in the same transaction as every vector write (the SQLite backend: triggers on its vector
table), and uses the cached form only when it matches. Ids are never reused, so a new memory
raises the highest id and the sum, a deleted one lowers the count: either makes the cache stale.
New rows alone (the common change: the previous turn's memories) are read and appended; anything
else reloads the user's vectors. The signature and the rows are read in one read transaction (one
snapshot). Re-embedding the store (`recreate_vectors`) forgets the engine's cache.

The cache is bounded (MAX_BYTES over all stores and users, least recently used out first) and
keyed by engine, held weakly: a closed store's vectors go with it. A user whose form would not fit
is not loaded: `fits` says so beforehand, and the caller searches the store's own index instead.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import count, islice
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

MAX_BYTES = 256 * 1024 * 1024
LOAD_CHUNK = 4096  # rows converted at a time when a user's vectors are loaded

Signature = tuple[int, int, int, int]  # (vectors, highest id written, sum of ids, in-place changes)
# (conn, user_id, after_id) -> the user's (memory_id, float32 blob) rows with ids above after_id,
# in id order (an iterable: a large user's rows are streamed, never all held as floats at once).
RowsAfter = Callable[[Connection, str, int], Iterable[tuple[int, bytes]]]


@dataclass(frozen=True)
class UserVectors:
    """A small user's unit vectors (a zero vector stays zero), a row each."""

    signature: Signature
    ids: np.ndarray  # int64, one per row of `unit`
    unit: np.ndarray  # float32

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.unit.nbytes)


class _Buffers:
    """Growable id and bit arrays that several UserBits share: each sees its first `size` rows;
    rows past the last one written are written in place (no copy of what is there)."""

    def __init__(self, ids: np.ndarray, bits: np.ndarray, filled: int) -> None:
        self.ids, self.bits, self.filled = ids, bits, filled


@dataclass(frozen=True)
class UserBits:
    """A large user's sign bits: column i of `bits` (words x capacity, uint64) is row i's."""

    signature: Signature
    buffers: _Buffers
    size: int

    @property
    def ids(self) -> np.ndarray:
        return self.buffers.ids[: self.size]

    @property
    def nbytes(self) -> int:
        return int(self.buffers.ids.nbytes + self.buffers.bits.nbytes)


Cached = UserVectors | UserBits


def _floats(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)


def _unit(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    matrix = _floats(blobs, dim).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def words(dim: int) -> int:
    return -(-dim // 64)


def sign_bits(matrix: np.ndarray) -> np.ndarray:
    """Each row's sign bits (1 where the value is above 0), word-major: (words, rows) uint64."""
    rows, dim = matrix.shape
    packed = np.packbits(matrix > 0, axis=1, bitorder="little")
    padded = np.zeros((rows, words(dim) * 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return np.ascontiguousarray(padded.view("<u8").T)


def bytes_for(rows: int, dim: int, large: bool) -> int:
    """What a user's cached form takes (a large user's with room to grow by a quarter)."""
    per_row = 8 + (words(dim) * 8 if large else dim * 4)
    return int(per_row * (rows * 1.25 + 1024 if large else rows))


class VectorCache:
    """Users' vectors by (engine, user), validated by their signature in the store."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._tokens: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
        self._next = count()
        self._entries: OrderedDict[tuple[int, str], Cached] = OrderedDict()
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

    def fits(self, rows: int, dim: int, large: bool) -> bool:
        """Whether a user of `rows` vectors can be held (at most half the bound: one user must
        not push out everyone else)."""
        return bytes_for(rows, dim, large) <= self.max_bytes // 2

    def _known(self, conn: Connection, user_id: str) -> tuple[tuple[int, str], Cached | None]:
        with self._lock:
            key = self._key(conn.engine, user_id)
            known = self._entries.get(key)
            if known is not None:
                self._entries.move_to_end(key)
        return key, known

    def vectors(
        self, conn: Connection, user_id: str, signature: Signature, rows_after: RowsAfter, dim: int
    ) -> UserVectors:
        """A small user's unit vectors as the store holds them now (`signature` was just read)."""

        def appended(known: UserVectors, new: list[Any]) -> UserVectors:
            ids = np.concatenate([known.ids, np.fromiter((r[0] for r in new), np.int64, len(new))])
            return UserVectors(signature, ids, np.vstack([known.unit, _unit([r[1] for r in new], dim)]))

        def loaded(rows: Iterable[tuple[int, bytes]]) -> UserVectors:
            listed = list(rows)
            ids = np.fromiter((r[0] for r in listed), dtype=np.int64, count=len(listed))
            return UserVectors(signature, ids, _unit([r[1] for r in listed], dim))

        return self._current(
            conn,
            user_id,
            signature,
            rows_after,
            lambda known: isinstance(known, UserVectors) and known.unit.shape[1:] == (dim,),
            appended,
            loaded,
        )

    def bits(
        self, conn: Connection, user_id: str, signature: Signature, rows_after: RowsAfter, dim: int
    ) -> UserBits:
        """A large user's sign bits as the store holds them now (`signature` was just read)."""
        return self._current(
            conn,
            user_id,
            signature,
            rows_after,
            lambda known: isinstance(known, UserBits) and known.buffers.bits.shape[0] == words(dim),
            lambda known, new: self._appended(known, signature, new, dim),
            lambda rows: _load_bits(signature, rows, dim),
        )

    def _current(
        self,
        conn: Connection,
        user_id: str,
        signature: Signature,
        rows_after: RowsAfter,
        usable: Callable[[Cached | None], bool],
        appended: Callable[[Any, list[Any]], Any],
        loaded: Callable[[Iterable[tuple[int, bytes]]], Any],
    ) -> Any:
        """The user's cached form when it matches `signature`; else the cached one with the new
        rows appended, when new rows are all that changed; else loaded again (and kept only when
        the rows read are those the signature describes)."""
        key, known = self._known(conn, user_id)
        if not usable(known):
            known = None
        if known is not None and known.signature == signature:
            return known
        fresh = None
        if known is not None and _only_added(known.signature, signature):
            new = list(rows_after(conn, user_id, known.signature[1]))
            if _adds_up(known.signature, signature, new):
                fresh = appended(known, new)
        if fresh is None:
            fresh = loaded(rows_after(conn, user_id, 0))
            if not _matches(signature, fresh.ids):
                return fresh  # not the rows the signature describes: answer, do not keep
        self._keep(key, fresh)
        return fresh

    def _appended(self, known: UserBits, signature: Signature, new: list[Any], dim: int) -> UserBits:
        """`known` with the new rows after it: written in place when its buffers have room and no
        other entry has written past it, else into larger copies."""
        ids = np.fromiter((r[0] for r in new), dtype=np.int64, count=len(new))
        bits = sign_bits(_floats([r[1] for r in new], dim))
        size, end = known.size, known.size + len(new)
        with self._lock:
            buffers = known.buffers
            if buffers.filled != size or buffers.ids.shape[0] < end:
                capacity = max(end, int(end * 1.25) + 1024)
                grown = _Buffers(
                    np.empty(capacity, dtype=np.int64), np.empty((bits.shape[0], capacity), np.uint64), size
                )
                grown.ids[:size], grown.bits[:, :size] = known.ids, buffers.bits[:, :size]
                buffers = grown
            buffers.ids[size:end], buffers.bits[:, size:end] = ids, bits
            buffers.filled = end
        return UserBits(signature, buffers, end)

    def _keep(self, key: tuple[int, str], entry: Cached) -> None:
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


def _only_added(known: Signature, now: Signature) -> bool:
    """Whether `now` may be `known` plus new rows: more rows, a higher id, no change in place."""
    return now[0] > known[0] and now[1] > known[1] and now[3] == known[3]


def _adds_up(known: Signature, now: Signature, new: Sequence[Any]) -> bool:
    """Whether the rows after known's highest id are exactly what changed."""
    return (
        bool(new)
        and known[0] + len(new) == now[0]
        and known[2] + sum(r[0] for r in new) == now[2]
        and max(r[0] for r in new) == now[1]
    )


def _matches(signature: Signature, ids: np.ndarray) -> bool:
    return (
        len(ids) == signature[0]
        and int(ids.sum()) == signature[2]
        and int(ids.max(initial=0)) <= signature[1]
    )


def _load_bits(signature: Signature, rows: Iterable[tuple[int, bytes]], dim: int) -> UserBits:
    """A user's sign bits from their streamed rows, LOAD_CHUNK at a time."""
    capacity = int(signature[0] * 1.25) + 1024
    buffers = _Buffers(np.empty(capacity, dtype=np.int64), np.empty((words(dim), capacity), np.uint64), 0)
    stream = iter(rows)
    while chunk := list(islice(stream, LOAD_CHUNK)):
        end = buffers.filled + len(chunk)
        if end > buffers.ids.shape[0]:  # more rows than the signature said: grow
            grown = _Buffers(
                np.empty(end * 2, dtype=np.int64), np.empty((words(dim), end * 2), np.uint64), buffers.filled
            )
            grown.ids[: buffers.filled] = buffers.ids[: buffers.filled]
            grown.bits[:, : buffers.filled] = buffers.bits[:, : buffers.filled]
            buffers = grown
        buffers.ids[buffers.filled : end] = [r[0] for r in chunk]
        buffers.bits[:, buffers.filled : end] = sign_bits(_floats([r[1] for r in chunk], dim))
        buffers.filled = end
    return UserBits(signature, buffers, buffers.filled)


def nearest(vectors: UserVectors, query: Sequence[float], k: int) -> list[tuple[int, float]]:
    """(memory id, cosine distance) of the k nearest, nearest first (ties by id), as
    sqlite-vec's vec_distance_cosine would rank them."""
    if not len(vectors.ids) or k <= 0:
        return []
    return _ranked(vectors.ids, vectors.unit, query, k)


def _ranked(ids: np.ndarray, unit: np.ndarray, query: Sequence[float], k: int) -> list[tuple[int, float]]:
    q = np.asarray(query, dtype=np.float32)
    norm = float(np.linalg.norm(q))
    q_unit = q if norm == 0.0 else q / norm
    distance = 1.0 - unit @ q_unit
    picked = np.argpartition(distance, k - 1)[:k] if k < len(distance) else np.arange(len(distance))
    order = sorted(picked.tolist(), key=lambda i: (float(distance[i]), int(ids[i])))
    return [(int(ids[i]), float(distance[i])) for i in order]


def shortlist(bits: UserBits, query: Sequence[float], wanted: int) -> list[int]:
    """The ids of about `wanted` rows nearest the query by Hamming distance of sign bits (all of
    them at the cut-off distance, up to twice `wanted`)."""
    size = bits.size
    if size <= wanted:
        return bits.ids.tolist()
    q = sign_bits(np.asarray(query, dtype=np.float32)[None, :])[:, 0]
    matrix = bits.buffers.bits
    distance = np.zeros(size, dtype=np.uint16)
    scratch, ones = np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.uint8)
    for word in range(matrix.shape[0]):
        np.bitwise_xor(matrix[word, :size], q[word], out=scratch)
        np.bitwise_count(scratch, out=ones)
        np.add(distance, ones, out=distance)
    # The cut-off: the smallest distance with `wanted` rows at or below it (distances are small
    # integers: a histogram, not a sort).
    cut = int(np.searchsorted(np.cumsum(np.bincount(distance)), wanted))
    picked = np.flatnonzero(distance <= cut)
    if len(picked) > 2 * wanted:
        picked = picked[np.argsort(distance[picked], kind="stable")[:wanted]]
    return bits.ids[picked].tolist()


def rescored(
    rows: Sequence[tuple[int, bytes]], query: Sequence[float], dim: int, k: int
) -> list[tuple[int, float]]:
    """The k nearest of `rows` (memory id, float32 blob) by exact cosine distance."""
    if not rows or k <= 0:
        return []
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return _ranked(ids, _unit([r[1] for r in rows], dim), query, k)
