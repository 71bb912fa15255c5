"""The long-term store at scale: ingest throughput, recall latency, size on disk and peak memory
with N memories spread over U users.

For each size a fresh temporary SQLite store is filled through `LongTermMemory.add_many` (the
store's own bulk path, every write audited) in batches, then one user's recall is timed. Embedding
is not what is measured: the stored vectors are deterministic random unit vectors (numpy, fixed
seed) and the texts short generated word sequences, made before each batch is timed. Memories are
written in runs of `_RUN` of one session of one user, the users taking turns, so a user's memories
are spread through the table as a multi-tenant store's are. Each query is a few words of one of
the user's memories with a vector near that memory's (as a real embedder's would be); the query
embedding is timed apart (`query_embed_ms`) with the configured embedder on the query texts.
Peak RSS is the process's peak so far (ru_maxrss): with several sizes, run smallest first.

With `database_url` (postgresql://...) each size is measured in that database instead, which must
hold no store yet; its tables are dropped after each size. Its size is pg_database_size. There the
import is a bulk load: the HNSW index is dropped before it and built after it (`index_build_s`),
as restoring a large store would be done; rows go in by COPY.

How much the approximate vector search loses is shown apart from the timings: `ann_recall_at_10`
is the overlap of the backend's 10 nearest (`Backend.nearest`, the vector signal of a recall) with
the exact 10 nearest of the queried user's vectors, computed here (numpy), averaged over the
queries. A user whose nearest are exact scans (most users) has 1.0.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from framework.embeddings import Embedder, resolve_embedder
from framework.errors import ConfigurationError
from framework.memory.longterm.backends import backend_for
from framework.memory.longterm.backends.postgres import PostgresBackend
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import SearchQuery
from framework.memory.longterm.store import LongTermMemory

BATCH = 10_000  # memories per add_many call: one transaction, bounded memory
LIMIT = 10
_RUN = 10  # memories written together in one session of one user
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def _vocabulary(rng: np.random.Generator, size: int = 5_000) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        parts = rng.integers(0, len(_SYLLABLES), size=int(rng.integers(2, 4)))
        words["".join(_SYLLABLES[p] for p in parts)] = None
    return list(words)


def _user(i: int, users: int) -> int:
    return (i // _RUN) % users


def _batch(start: int, end: int, vocab: list[str], dim: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts and unit vectors of memories start..end-1 (deterministic for the seed and start)."""
    rng = np.random.default_rng([seed, start])
    n = end - start
    lengths = rng.integers(6, 11, size=n)
    picks = rng.integers(0, len(vocab), size=int(lengths.sum()))
    texts, at = [], 0
    for length in lengths:
        texts.append(" ".join(vocab[p] for p in picks[at : at + length]))
        at += length
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure_one(
    memories: int,
    users: int = 1,
    embedder: str | Embedder = "hash",
    queries: int = 200,
    warmup: int = 5,
    batch: int = BATCH,
    seed: int = 0,
    keep: Path | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """One size; `keep` (a directory) leaves the SQLite database there instead of a temporary one;
    `database_url` measures in that (empty) database instead of a SQLite file."""
    if memories < 1 or users < 1:
        raise ValueError("memories and users must be at least 1")
    model = resolve_embedder(embedder)
    dim = model.dim
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    # The queried user (user 0) and the memories its queries are about.
    runs = np.arange(0, -(-memories // _RUN), users)
    own = (runs[:, None] * _RUN + np.arange(_RUN)).ravel()
    own = own[own < memories]
    own_set = {int(i) for i in own}
    own_ids: list[int] = []  # user 0's memory ids and vectors, in the order written
    own_vectors: list[np.ndarray] = []
    targets = rng.choice(own, size=warmup + queries)
    wanted = {int(t) for t in targets}
    about: dict[int, tuple[str, np.ndarray]] = {}

    with tempfile.TemporaryDirectory(prefix="framework-scale-") as tmp:
        path = (keep or Path(tmp)) / "memory.db"
        engine = empty_store(database_url) if database_url else open_engine(f"sqlite:///{path}")
        try:
            migrate(engine, model.name, dim)
            store = LongTermMemory(engine)
            pg = backend_for(engine)  # PostgreSQL: the HNSW index is built after the load
            bulk = pg if isinstance(pg, PostgresBackend) else None
            if bulk:
                with engine.begin() as conn:
                    bulk.drop_ann_index(conn)
            ingest_s = index_s = 0.0
            for start in range(0, memories, batch):
                end = min(memories, start + batch)
                texts, vectors = _batch(start, end, vocab, dim, seed)
                for i in wanted.intersection(range(start, end)):
                    about[i] = (texts[i - start], vectors[i - start].copy())
                entries = [
                    MemoryEntry(
                        user_id=f"user-{_user(i, users):05d}",
                        content=text,
                        session_id=f"s{i // (_RUN * users)}",
                        embedder=model.name,
                    )
                    for i, text in zip(range(start, end), texts, strict=True)
                ]
                mine = [i - start for i in range(start, end) if i in own_set]
                own_vectors.append(vectors[mine].copy())
                rows = vectors.tolist()
                del vectors
                began = time.perf_counter()
                store.add_many(entries, rows, actor="bench", reason="scale import")
                ingest_s += time.perf_counter() - began
                own_ids.extend(int(entries[i].id) for i in mine)  # type: ignore[arg-type]
                del entries, rows, texts
            if bulk:
                with engine.begin() as conn:
                    index_s = bulk.build_ann_index(conn)
                    conn.exec_driver_sql("ANALYZE memory_vec")

            # Queries: three words of the target memory; its vector with noise (cosine about 0.9).
            asked: list[tuple[str, list[float]]] = []
            for t in targets:
                text, vector = about[int(t)]
                words = text.split()
                picked = rng.choice(len(words), size=3, replace=False)
                noisy = vector + rng.standard_normal(dim, dtype=np.float32) * (0.5 / np.sqrt(dim))
                asked.append(
                    (" ".join(words[p] for p in sorted(picked)), (noisy / np.linalg.norm(noisy)).tolist())
                )
            user = f"user-{0:05d}"
            recall_ms: list[float] = []
            for n, (text, query_vector) in enumerate(asked):
                began = time.perf_counter()
                store.search(SearchQuery(user, text, limit=LIMIT), query_vector)
                if n >= warmup:
                    recall_ms.append((time.perf_counter() - began) * 1000)
            ann_recall = _ann_recall(
                engine, user, own_ids, np.concatenate(own_vectors), [v for _, v in asked[warmup:]]
            )
            embed_ms: list[float] = []
            for n, (text, _) in enumerate(asked):
                began = time.perf_counter()
                model.embed([text])
                if n >= warmup:
                    embed_ms.append((time.perf_counter() - began) * 1000)
            if database_url:
                with engine.begin() as conn:
                    db_bytes = int(
                        conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
                    )
            else:
                db_bytes = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        finally:  # the database given is left as it was found, even after a failure
            if database_url:
                drop_store(engine)
            engine.dispose()

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "memories": memories,
        "users": users,
        "ingest_per_s": round(memories / ingest_s, 1) if ingest_s else 0.0,
        "ingest_s": round(ingest_s, 3),
        "index_build_s": round(index_s, 3),
        "recall_p50_ms": round(statistics.median(recall_ms), 3),
        "recall_p95_ms": round(_percentile(recall_ms, 95), 3),
        "query_embed_ms": round(statistics.median(embed_ms), 3),
        "ann_recall_at_10": round(ann_recall, 3),
        "db_bytes": db_bytes,
        # ru_maxrss is KiB on Linux, bytes on macOS.
        "peak_rss_mb": round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1),
    }


def _ann_recall(
    engine: Engine, user: str, ids: list[int], vectors: np.ndarray, queries: list[list[float]]
) -> float:
    """Mean overlap of the backend's 10 nearest with the exact 10 nearest (cosine over the user's
    unit vectors, here) for each query."""
    backend = backend_for(engine)
    known = np.asarray(ids)
    found = 0
    with engine.connect() as conn:
        for query in queries:
            exact = set(known[np.argsort(-(vectors @ np.asarray(query, dtype=np.float32)))[:LIMIT]].tolist())
            found += len(exact & {mid for mid, _ in backend.nearest(conn, user, query, LIMIT)})
    wanted = min(LIMIT, len(ids)) * len(queries)
    return found / wanted if wanted else 1.0


def _store_tables() -> tuple[str, ...]:
    """Every table a store has: the models' tables and the backend's search indexes."""
    from sqlmodel import SQLModel

    import framework.memory.longterm.records  # noqa: F401  (registers the models' tables)

    return (*SQLModel.metadata.tables, "memory_vec", "memory_fts")


_STORE_TABLES = _store_tables()


def drop_store(engine: Engine) -> None:
    """Drop every table of the store at `engine` (a bench's, in a database it was given empty)."""
    from framework.memory.longterm.backends.postgres_text import text_search_objects

    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {', '.join(_STORE_TABLES)}")
        for kind, name in text_search_objects():
            conn.exec_driver_sql(f"DROP TEXT SEARCH {kind} IF EXISTS {name}")


def empty_store(url: str) -> Engine:
    """An engine on `url` after checking that no memory store is there: the bench writes into it
    and drops the store's tables afterwards (`drop_store`)."""
    if not url.startswith(("postgresql", "postgres:")):
        raise ConfigurationError(
            f"--database-url {url!r}: the bench measures SQLite in a temporary file of its own; "
            "give a postgresql://… URL of an empty database, or leave the option out"
        )
    engine = open_engine(url)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            f"AND table_name IN ({', '.join(repr(t) for t in _STORE_TABLES)})"
        ).fetchall()
    if found:
        engine.dispose()
        raise ConfigurationError(
            f"--database-url {url!r} already holds a memory store (tables {sorted(r[0] for r in found)}); "
            "the bench writes and then drops its own: give it an empty database"
        )
    return engine


def measure(
    sizes: list[int],
    users: int = 1,
    embedder: str | Embedder = "hash",
    queries: int = 200,
    database_url: str | None = None,
) -> dict[str, Any]:
    model = resolve_embedder(embedder)
    return {
        "embedder": model.name,
        "database": "sqlite" if database_url is None else "postgresql",
        "results": [measure_one(n, users, model, queries, database_url=database_url) for n in sorted(sizes)],
    }
