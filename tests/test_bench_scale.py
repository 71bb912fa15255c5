"""`framework bench scale`: the figures are there, sane, and the rows were really written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.bench.scale import measure, measure_one
from framework.memory.longterm.backends.sqlite_words import as_users_words
from framework.memory.longterm.migrations import open_engine


def test_scale_figures_are_sane() -> None:
    result = measure([2_000, 500], users=2, queries=20)
    assert result["embedder"] == "hash-384"
    assert [r["memories"] for r in result["results"]] == [500, 2_000]  # smallest first
    for r in result["results"]:
        assert r["users"] == 2
        assert r["ingest_per_s"] > 0
        assert 0 < r["recall_p50_ms"] <= r["recall_p95_ms"]
        assert r["query_embed_ms"] > 0
        assert r["db_bytes"] > 0
        assert r["peak_rss_mb"] > 0
    small, large = result["results"]
    assert large["db_bytes"] > small["db_bytes"]


def test_scale_writes_every_row(tmp_path: Path) -> None:
    r = measure_one(2_000, users=2, queries=10, batch=700, keep=tmp_path)  # batches of uneven size
    assert r["memories"] == 2_000
    engine = open_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    with engine.connect() as conn:
        count = conn.exec_driver_sql
        assert count("SELECT count(*) FROM memory").scalar() == 2_000
        assert count("SELECT count(*) FROM memory_vec").scalar() == 2_000
        assert count("SELECT count(*) FROM memory_fts").scalar() == 2_000
        assert count("SELECT count(*) FROM audit WHERE operation = 'write'").scalar() == 2_000
        per_user = dict(count("SELECT user_id, count(*) FROM memory GROUP BY user_id").fetchall())
        assert per_user == {"user-00000": 1_000, "user-00001": 1_000}
        # Every memory's index rows carry its own id, user and text (its words as its user's own).
        indexed = count(
            "SELECT m.user_id, m.content, f.content FROM memory m JOIN memory_fts f ON f.rowid = m.id "
            "WHERE f.user_id = m.user_id"
        ).fetchall()
        assert len(indexed) == 2_000
        assert all(words == as_users_words(user, content) for user, content, words in indexed)
        assert (
            count(
                "SELECT count(*) FROM memory m JOIN audit a ON a.memory_id = m.id AND a.user_id = m.user_id"
            ).scalar()
            == 2_000
        )
    engine.dispose()


def test_scale_command_json() -> None:
    from framework.cli import main

    out = CliRunner().invoke(
        main, ["bench", "scale", "--memories", "300", "--users", "2", "--queries", "5", "--json"]
    )
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.output)["results"]
    assert set(row) >= {
        "memories",
        "users",
        "ingest_per_s",
        "recall_p50_ms",
        "recall_p95_ms",
        "query_embed_ms",
        "db_bytes",
        "peak_rss_mb",
    }
    assert (row["memories"], row["users"]) == (300, 2)


def tables_in(url: str) -> int:
    """How many tables the PostgreSQL database at `url` holds."""
    engine = open_engine(url)
    with engine.connect() as conn:
        count = conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).scalar()
    engine.dispose()
    return int(count or 0)


def test_scale_on_postgresql_writes_every_row_and_leaves_the_database_empty(
    postgres_database: str,
) -> None:
    from framework.bench.scale import _STORE_TABLES

    r = measure_one(1_200, users=3, queries=10, batch=500, database_url=postgres_database)
    assert (r["memories"], r["users"]) == (1_200, 3)
    assert r["ingest_per_s"] > 0 and 0 < r["recall_p50_ms"] <= r["recall_p95_ms"] and r["db_bytes"] > 0
    assert tables_in(postgres_database) == 0 and {"memory", "memory_vec", "memory_fts", "audit"} <= set(
        _STORE_TABLES
    )


def test_scale_refuses_a_database_that_holds_a_store(postgres_database: str) -> None:
    from framework.errors import ConfigurationError
    from framework.memory.longterm.migrations import migrate

    engine = open_engine(postgres_database)
    migrate(engine, "hash-384", 384)
    engine.dispose()
    with pytest.raises(ConfigurationError, match="already holds a memory store"):
        measure_one(100, database_url=postgres_database)


def test_scale_refuses_a_sqlite_url_naming_the_option() -> None:
    from framework.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="--database-url 'sqlite:///x.db'.*postgresql://"):
        measure_one(100, database_url="sqlite:///x.db")


def test_a_failed_scale_run_still_leaves_the_database_empty(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framework.memory.longterm.store import LongTermMemory

    def broken(self: LongTermMemory, *args: object) -> None:
        raise RuntimeError("recall broke")

    monkeypatch.setattr(LongTermMemory, "search", broken)
    with pytest.raises(RuntimeError, match="recall broke"):
        measure_one(200, queries=5, database_url=postgres_database)
    assert tables_in(postgres_database) == 0
