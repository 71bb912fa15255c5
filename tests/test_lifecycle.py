"""The forgetting cycle (expiry, decay, pruning, deletion after a grace period) and re-embedding,
on a real store (SQLite and PostgreSQL), with timestamps moved into the past by SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from framework.config import load_settings
from framework.errors import StoreError
from framework.memory.longterm.lifecycle import ForgettingCycle, reembed
from framework.memory.longterm.records import utcnow
from framework.memory.longterm.search import SearchQuery
from framework.memory.manager import MemoryManager

pytestmark = pytest.mark.both_backends
Sql = Callable[..., list[tuple]]  # type: ignore[type-arg]


def ago(days: float) -> str:
    return (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S.%f")


def aged(sql: Sql, memory_id: int, days: float, column: str = "created_at") -> None:
    sql(f"UPDATE memory SET {column} = ? WHERE id = ?", ago(days), memory_id)


def store(home: Path, embedder: str = "hash") -> MemoryManager:
    return MemoryManager(load_settings(home, embedder=embedder))


def test_one_cycle_expires_decays_prunes_and_deletes(home: Path, raw_sql: Sql) -> None:
    m = store(home)
    for content, kind in [
        ("Ada is in Paris this week", "fact"),
        ("Ada likes jazz", "preference"),
        ("Never deploy on Fridays", "constraint"),
        ("Ada used to live in Rome", "fact"),
        ("Ada once tried Erlang", "fact"),
    ]:
        assert m.remember("ada", content, kind).kind == "write"
    m.remember("bob", "Bob likes jazz", "preference")
    raw_sql("UPDATE memory SET valid_until = ? WHERE id = 1", ago(1))  # 1: its week is over
    for mid in (2, 3, 6):
        aged(raw_sql, mid, 120)  # unused for 120 days: 90 idle days past the threshold = one half-life
    aged(raw_sql, 5, 400)
    raw_sql("UPDATE memory SET confidence = 0.1 WHERE id = 5")
    m.long_term.forget("ada", 4, actor="user", reason="moved")
    # forgotten 40 days ago: past the grace period
    raw_sql("UPDATE audit SET at = ? WHERE memory_id = 4 AND operation = 'forget'", ago(40))

    cycle = ForgettingCycle(m.engine)
    preview = cycle.run("ada", dry_run=True)
    assert preview.counts() == {"expired": 1, "decayed": 2, "pruned": 1, "deleted": 1}
    assert raw_sql("SELECT count(*) FROM audit WHERE operation IN ('decay', 'delete')") == [(0,)]

    report = cycle.run("ada")
    assert (report.expired, report.decayed, report.pruned, report.deleted) == ([1], [2, 5], [5], [4])
    status = dict(raw_sql("SELECT id, status FROM memory"))
    assert status == {1: "forgotten", 2: "active", 3: "active", 5: "forgotten", 6: "active"}
    confidence = dict(raw_sql("SELECT id, confidence FROM memory"))
    assert confidence[2] == pytest.approx(0.45, abs=0.01)  # 0.9 halved once
    assert confidence[3] == 0.9 and confidence[6] == 0.9  # constraints do not fade; bob not in scope
    assert raw_sql("SELECT rowid FROM memory_fts WHERE rowid IN (1, 4, 5)") == []
    assert raw_sql("SELECT memory_id FROM memory_vec WHERE memory_id IN (1, 4, 5)") == []
    reasons = dict(
        raw_sql(
            "SELECT memory_id, reason FROM audit WHERE operation IN ('forget', 'delete') "
            "AND actor = 'runtime'",
        )
    )
    assert reasons == {
        1: "expired: past its valid_until",
        5: "pruned: confidence below 0.3",  # the seed's floor
        4: "superseded or forgotten over 30 days ago",
    }

    again = cycle.run("ada")  # the same day: nothing decays twice
    assert again.counts() == {"expired": 0, "decayed": 0, "pruned": 0, "deleted": 0}
    m.close()


def test_reembed_moves_the_store_to_another_embedder(home: Path) -> None:
    m = store(home)
    m.remember("ada", "Ada likes jazz", "preference")
    m.remember("ada", "Ada plays the piano", "fact")
    m.close()
    with pytest.raises(StoreError, match="framework memory reembed"):
        store(home, "hash-128")

    from framework.embeddings import resolve_embedder
    from framework.memory.longterm.migrations import open_engine

    engine = open_engine(load_settings().database_url)
    seen: list[int] = []
    assert reembed(engine, resolve_embedder("hash-128"), progress=seen.append) == 2
    engine.dispose()
    assert seen == [2]
    m = store(home, "hash-128")
    found = m.long_term.search(SearchQuery("ada", "piano"), m.embedder.embed(["piano"])[0])
    m.close()
    assert found.items[0].memory.content == "Ada plays the piano"
    assert "vector" in found.items[0].via


def test_a_reembedding_that_fails_half_way_changes_nothing(home: Path, raw_sql: Sql) -> None:
    m = store(home)
    for n in range(300):
        m.remember("ada", f"Ada read book number {n}", "fact")
    m.remember("ada", "Ada plays the piano", "fact")
    m.close()
    from framework.embeddings import resolve_embedder
    from framework.memory.longterm.migrations import open_engine

    target = resolve_embedder("hash-128")
    calls: list[int] = []

    def flaky(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("embedding service timed out")
        return [[0.0] * 128 for _ in texts]

    target.embed = flaky  # type: ignore[method-assign]
    engine = open_engine(load_settings().database_url)
    with pytest.raises(RuntimeError, match="timed out"):
        reembed(engine, target, batch=256)
    engine.dispose()
    m = store(home)  # still the old embedder's store, every vector in place
    found = m.long_term.search(SearchQuery("ada", "piano"), m.embedder.embed(["Ada plays the piano"])[0])
    assert found.items[0].memory.content == "Ada plays the piano" and "vector" in found.items[0].via
    m.close()
    [(active,)] = raw_sql("SELECT count(*) FROM memory WHERE status = 'active'")
    assert active > 256 and raw_sql("SELECT count(*) FROM memory_vec") == [(active,)]  # two batches
    assert raw_sql("SELECT value FROM store_meta WHERE key = 'embedder'") == [("hash-384",)]
