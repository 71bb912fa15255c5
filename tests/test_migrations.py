"""Schema migrations are named functions applied in order: a store made by an older version
opens with the current one, and what it held is still found."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.embeddings import HashEmbedder
from framework.errors import ConfigurationError
from framework.memory.longterm import migrations as database
from framework.memory.longterm.backends import execute
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import SearchQuery
from framework.memory.longterm.store import LongTermMemory


def test_a_store_from_schema_2_gains_the_owner_scoped_lexical_index(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    embedder = HashEmbedder()
    engine = database.open_engine(url)
    monkeypatch.setattr(database, "MIGRATIONS", database.MIGRATIONS[:2])  # as version 2 left it
    database.migrate(engine, embedder.name, embedder.dim)
    with engine.begin() as conn:
        for mid, user, text in [(1, "ada", "Ada plays the cello"), (2, "bob", "Bob plays the cello")]:
            conn.exec_driver_sql(
                "INSERT INTO memory (id, user_id, content, memory_type, confidence, source, status, "
                "created_at, access_count, tags) VALUES (?, ?, ?, 'fact', 0.9, 'explicit', 'active', "
                "'2026-01-01 00:00:00.000000', 0, '[]')",
                (mid, user, text),
            )
            conn.exec_driver_sql(
                "INSERT INTO memory_fts(rowid, content, user_id) VALUES (?, ?, ?)", (mid, text, user)
            )
    monkeypatch.undo()

    database.migrate(engine, embedder.name, embedder.dim)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT value FROM store_meta WHERE key = 'schema_version'").scalar()
        columns = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(memory_fts)").fetchall()]
    assert version == str(len(database.MIGRATIONS)) and columns == ["content", "user_id", "owner"]
    store = LongTermMemory(engine)
    found = store.search(SearchQuery("ada", "cello"), None)
    assert [r.memory.id for r in found.items] == [1]  # bob's identical memory stays bob's
    new = store.add(
        MemoryEntry(user_id="ada", content="Ada sings alto"), embedder.embed(["Ada sings alto"])[0]
    )
    assert [r.memory.id for r in store.search(SearchQuery("ada", "alto"), None).items] == [new.id]
    engine.dispose()


@pytest.mark.both_backends
def test_a_fresh_store_migrates_to_the_latest_schema_once(tmp_path: Path, database_url: str | None) -> None:
    engine = database.open_engine(database_url or f"sqlite:///{tmp_path / 'memory.db'}")
    embedder = HashEmbedder()
    for _ in range(2):  # the second run finds nothing to do
        database.migrate(engine, embedder.name, embedder.dim)
    with engine.connect() as conn:
        meta = dict(execute(conn, "SELECT key, value FROM store_meta").fetchall())
        indexes = [execute(conn, f"SELECT count(*) FROM {t}").scalar() for t in ("memory_vec", "memory_fts")]
    assert meta == {
        "schema_version": str(len(database.MIGRATIONS)),
        "embedder": embedder.name,
        "embedding_dim": str(embedder.dim),
    }
    assert indexes == [0, 0]
    engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u:p@db/memory", "mongodb://db/memory"])
def test_an_unsupported_database_url_names_the_setting_and_what_works(url: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        database.open_engine(url)
    message = str(exc.value)
    assert url in message and "sqlite:///" in message and "postgresql://" in message
    assert "FRAMEWORK_DATABASE_URL" in message
