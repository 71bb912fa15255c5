"""A user's vectors in process memory, checked against the store on every use.

Two forms, by the user's size (the caller chooses):
- a small user's (most users) unit vectors, a float32 matrix: the exact nearest are one
  matrix-vector product (~0.05 ms for 1,000 memories, where sqlite-vec's cosine per row in SQL
  took ~1.2 ms);
- a large user's sign bits, one bit a dimension packed in 64-bit words and stored word-major
  (`UserBits`): the Hamming distance to the query's bits is a few XORs and popcounts over
  contiguous arrays (~0.5 ms for 100,000 memories, ~6 ms for 1,000,000), and the nearest by
  Hamming distance are the shortlist that the caller rescores by exact cosine (binary
  quantization with rescoring). 48 bytes a 384-d memory instead of 1,536. When they fit, each
  row's int8 codes too (the unit vector over 127 steps of its largest component, and that
  step: 388 bytes a 384-d memory): they rank a shortlist in process memory (a cosine off by
  ~3e-4 on average), so that only its best few are read from the store for the exact
  cosine, and a longer shortlist costs little (`shortlist(..., keep)`). A scan can run in a
  worker thread (`scanning`) while the caller uses its connection. Under the bound, the least
  recently used user's codes are given up before any user is.

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
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import count, islice
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from framework.memory.longterm.backends.beside import beside

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
    """Growable arrays that several UserBits share: each sees its first `size` rows; rows past
    the last one written are written in place (no copy of what is there). `codes` (capacity x
    dim, int8) and `scales` (float32), when held: each row's unit vector as int8 codes times its
    scale (`int8_codes`)."""

    def __init__(
        self,
        ids: np.ndarray,
        bits: np.ndarray,
        filled: int,
        codes: np.ndarray | None,
        scales: np.ndarray | None,
    ) -> None:
        self.ids, self.bits, self.filled, self.codes, self.scales = ids, bits, filled, codes, scales

    @classmethod
    def empty(cls, capacity: int, dim: int, codes: bool) -> _Buffers:
        return cls(
            np.empty(capacity, dtype=np.int64),
            np.empty((words(dim), capacity), dtype=np.uint64),
            0,
            np.empty((capacity, dim), dtype=np.int8) if codes else None,
            np.empty(capacity, dtype=np.float32) if codes else None,
        )

    @property
    def capacity(self) -> int:
        return int(self.ids.shape[0])

    def grown(self, capacity: int) -> _Buffers:
        """A copy with room for `capacity` rows, holding the rows written so far."""
        dim = self.codes.shape[1] if self.codes is not None else self.bits.shape[0] * 64
        bigger = _Buffers.empty(capacity, dim, self.codes is not None)
        self.copy_into(bigger, self.filled)
        return bigger

    def copy_into(self, other: _Buffers, rows: int) -> None:
        other.ids[:rows], other.bits[:, :rows] = self.ids[:rows], self.bits[:, :rows]
        if (
            self.codes is not None
            and self.scales is not None
            and other.codes is not None
            and other.scales is not None
        ):
            other.codes[:rows], other.scales[:rows] = self.codes[:rows], self.scales[:rows]
        other.filled = rows

    def write(self, start: int, ids: np.ndarray, floats: np.ndarray) -> None:
        """Rows start.. from their ids and float vectors."""
        end = start + len(ids)
        self.ids[start:end], self.bits[:, start:end] = ids, sign_bits(floats)
        if self.codes is not None and self.scales is not None:
            self.codes[start:end], self.scales[start:end] = int8_codes(floats)
        self.filled = end


@dataclass(frozen=True)
class UserBits:
    """A large user's sign bits: column i of `bits` (words x capacity, uint64) is row i's; and,
    when they fit, the int8 codes of the unit vectors."""

    signature: Signature
    buffers: _Buffers
    size: int

    @property
    def ids(self) -> np.ndarray:
        return self.buffers.ids[: self.size]

    @property
    def nbytes(self) -> int:
        held = (self.buffers.ids, self.buffers.bits, self.buffers.codes, self.buffers.scales)
        return int(sum(array.nbytes for array in held if array is not None))

    def without_codes(self) -> UserBits:
        """The same rows' ids and bits alone, in buffers of their own (the shared ones may be
        written past `size` by whoever holds this entry)."""
        ids, bits = self.ids.copy(), np.ascontiguousarray(self.buffers.bits[:, : self.size])
        return UserBits(self.signature, _Buffers(ids, bits, self.size, None, None), self.size)


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


def int8_codes(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's unit vector as int8 codes and a scale: unit ~= codes * scale (symmetric, per
    row; a cosine from them is off by ~3e-4 on average, under 2.5e-3)."""
    unit = matrix.astype(np.float32)
    unit /= np.where((norms := np.linalg.norm(unit, axis=1, keepdims=True)) > 0, norms, 1.0)
    peak = np.abs(unit).max(axis=1, initial=0.0)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.rint(unit / scales[:, None]).astype(np.int8)
    return codes, scales


def bytes_for(rows: int, dim: int, large: bool, codes: bool = False) -> int:
    """What a user's cached form takes (a large user's with room to grow by a quarter)."""
    per_row = 8 + (words(dim) * 8 + (dim + 4 if codes else 0) if large else dim * 4)
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

    def fits(self, rows: int, dim: int, large: bool, codes: bool = False) -> bool:
        """Whether a user of `rows` vectors can be held (at most half the bound: one user must
        not push out everyone else); `codes`: a large user's int8 codes with the bits."""
        return bytes_for(rows, dim, large, codes) <= self.max_bytes // 2

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
        self,
        conn: Connection,
        user_id: str,
        signature: Signature,
        rows_after: RowsAfter,
        dim: int,
        codes: bool = False,
    ) -> UserBits:
        """A large user's sign bits (with `codes`: and int8 codes) as the store holds them now
        (`signature` was just read)."""

        def usable(known: Cached | None) -> bool:
            # Bits whose codes were given up for room serve a user the codes were wanted for.
            return (
                isinstance(known, UserBits)
                and known.buffers.bits.shape[0] == words(dim)
                and (codes or known.buffers.codes is None)
                and (known.buffers.codes is None or known.buffers.codes.shape[1] == dim)
            )

        return self._current(
            conn,
            user_id,
            signature,
            rows_after,
            usable,
            lambda known, new: self._appended(known, signature, new, dim),
            lambda rows: _load_bits(signature, rows, dim, codes),
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
        floats = _floats([r[1] for r in new], dim)
        size, end = known.size, known.size + len(new)
        with self._lock:
            buffers = known.buffers
            if buffers.filled != size or buffers.capacity < end:
                grown = _Buffers.empty(max(end, int(end * 1.25) + 1024), dim, buffers.codes is not None)
                buffers.copy_into(grown, size)
                buffers = grown
            buffers.write(size, ids, floats)
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
                # The least recently used user's int8 codes go first (their bits still answer,
                # as a user too large for codes is answered), then whole users.
                coded = next((k for k, e in self._entries.items() if k != key and _coded(e)), None)
                if coded is not None:
                    known = self._entries[coded]
                    plain = self._entries[coded] = known.without_codes()  # type: ignore[union-attr]
                    self._bytes += plain.nbytes - known.nbytes
                    continue
                _key, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes


def _coded(entry: Cached) -> bool:
    return isinstance(entry, UserBits) and entry.buffers.codes is not None


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


def _load_bits(signature: Signature, rows: Iterable[tuple[int, bytes]], dim: int, codes: bool) -> UserBits:
    """A user's sign bits (and int8 codes) from their streamed rows, LOAD_CHUNK at a time."""
    buffers = _Buffers.empty(int(signature[0] * 1.25) + 1024, dim, codes)
    stream = iter(rows)
    while chunk := list(islice(stream, LOAD_CHUNK)):
        end = buffers.filled + len(chunk)
        if end > buffers.capacity:  # more rows than the signature said: grow
            buffers = buffers.grown(end * 2)
        ids = np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk))
        buffers.write(buffers.filled, ids, _floats([r[1] for r in chunk], dim))
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


def shortlist(bits: UserBits, query: Sequence[float], wanted: int, keep: int | None = None) -> list[int]:
    """The ids of about `wanted` rows nearest the query by Hamming distance of sign bits (all of
    them at the cut-off distance, up to twice `wanted`); with `keep`, when the int8 codes are
    held, only the `keep` of them nearest by the codes' cosine."""
    picked = _nearest_bits(bits, query, wanted)
    codes, scales = bits.buffers.codes, bits.buffers.scales
    if keep is None or codes is None or scales is None or len(picked) <= keep:
        return bits.ids[picked].tolist()
    q = np.asarray(query, dtype=np.float32)
    similarity = (codes[picked].astype(np.float32) @ q) * scales[picked]
    best = np.argpartition(-similarity, keep - 1)[:keep]
    return bits.ids[picked[best]].tolist()


def scanning(
    bits: UserBits, query: Sequence[float], wanted: int, keep: int | None = None
) -> Future[list[int]]:
    """`shortlist` in a worker thread (numpy releases the GIL while it scans)."""
    return beside(shortlist, bits, query, wanted, keep)


def _nearest_bits(bits: UserBits, query: Sequence[float], wanted: int) -> np.ndarray:
    """The positions of about `wanted` rows nearest the query by Hamming distance."""
    size = bits.size
    if size <= wanted:
        return np.arange(size)
    q = sign_bits(np.asarray(query, dtype=np.float32)[None, :])[:, 0]
    matrix = bits.buffers.bits
    distance = np.zeros(size, dtype=np.uint16)
    scratch, ones = np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.uint16)
    for word in range(matrix.shape[0]):
        np.bitwise_xor(matrix[word, :size], q[word], out=scratch)
        np.bitwise_count(scratch, out=ones, casting="unsafe")
        np.add(distance, ones, out=distance)
    # The cut-off: the smallest distance with `wanted` rows at or below it (distances are small
    # integers: a histogram, not a sort).
    cut = int(np.searchsorted(np.cumsum(np.bincount(distance)), wanted))
    picked = np.flatnonzero(distance <= cut)
    if len(picked) > 2 * wanted:
        picked = picked[np.argsort(distance[picked], kind="stable")[:wanted]]
    return picked


def rescored(
    rows: Sequence[tuple[int, bytes]], query: Sequence[float], dim: int, k: int
) -> list[tuple[int, float]]:
    """The k nearest of `rows` (memory id, float32 blob) by exact cosine distance."""
    if not rows or k <= 0:
        return []
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return _ranked(ids, _unit([r[1] for r in rows], dim), query, k)
