"""Long-term memory on a real store with the hashing embedder: a SQLite file (sqlite-vec + FTS5)
and a PostgreSQL database (pgvector + full-text search), every test on both."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from framework.config import load_settings
from framework.errors import StoreError
from framework.memory.longterm.backends import execute
from framework.memory.longterm.records import MemoryEntry, utcnow
from framework.memory.longterm.search import SearchQuery, SearchResult
from framework.memory.longterm.store import LongTermMemory
from framework.memory.manager import MemoryManager

pytestmark = pytest.mark.both_backends

SIGNALS = {"relevance", "confidence", "recency", "frequency", "task", "substance"}


@pytest.fixture
def mm(home: Path, backend: str) -> Iterator[MemoryManager]:
    manager = MemoryManager(load_settings(), embedder="hash")
    assert manager.engine.dialect.name == {"sqlite": "sqlite", "postgres": "postgresql"}[backend]
    yield manager
    manager.close()


def add(mm: MemoryManager, user: str, content: str, **fields: object) -> MemoryEntry:
    entry = MemoryEntry(user_id=user, content=content, embedder=mm.embedder.name, **fields)
    return mm.long_term.add(entry, mm.embedder.embed([content])[0], reason="test")


def recall(mm: MemoryManager, user: str, text: str, **query: object) -> SearchResult:
    return mm.long_term.search(SearchQuery(user, text, **query), mm.embedder.embed([text])[0])


def rows(mm: MemoryManager, sql: str, *params: object) -> list[tuple]:
    with mm.engine.connect() as conn:
        return [tuple(r) for r in execute(conn, sql, params).fetchall()]


def indexed(mm: MemoryManager, memory_id: int) -> tuple[bool, bool]:
    vec = rows(mm, "SELECT memory_id FROM memory_vec WHERE memory_id = ?", memory_id)
    fts = rows(mm, "SELECT rowid FROM memory_fts WHERE rowid = ?", memory_id)
    return bool(vec), bool(fts)


def test_hybrid_recall_ranks_and_explains(mm: MemoryManager) -> None:
    python = add(mm, "ada", "The user prefers Python for scripting")
    add(mm, "ada", "The user deploys on Fridays")
    result = recall(mm, "ada", "Python scripting")
    top = result.items[0]
    assert top.memory.id == python.id
    assert set(top.signals) == SIGNALS and all(0.0 <= v <= 1.0 for v in top.signals.values())
    assert set(top.via.split("+")) == {"vector", "lexical"}
    assert result.candidates["vector"] >= 1 and result.candidates["lexical"] == 1


def test_via_names_the_only_signal_that_found_a_memory(mm: MemoryManager) -> None:
    memory = add(mm, "ada", "The user prefers Python for scripting")
    lexical = mm.long_term.search(SearchQuery("ada", "python"), None)
    assert [(r.memory.id, r.via) for r in lexical.items] == [(memory.id, "lexical")]
    assert lexical.warnings == ["vector signal skipped: no query embedding"]
    vector = mm.long_term.search(SearchQuery("ada", ""), mm.embedder.embed([memory.content])[0])
    assert [(r.memory.id, r.via) for r in vector.items] == [(memory.id, "vector")]


def test_filters_report_what_they_dropped(mm: MemoryManager) -> None:
    kept = add(mm, "ada", "Ada's build server runs Debian")
    expired = add(
        mm, "ada", "Ada's build server is down for repairs", valid_until=utcnow() - timedelta(hours=1)
    )
    shaky = add(mm, "ada", "Ada's build server might be Ubuntu", confidence=0.3)
    result = recall(mm, "ada", "build server", min_confidence=0.5)
    assert [r.memory.id for r in result.items] == [kept.id]
    assert result.dropped == {expired.id: "expired", shaky.id: "confidence 0.30 < 0.50"}


def test_superseded_and_forgotten_are_never_recalled(mm: MemoryManager) -> None:
    old = add(mm, "ada", "Ada's editor is Emacs")
    gone = add(mm, "ada", "Ada's editor theme is Solarized")
    new = MemoryEntry(user_id="ada", content="Ada's editor is Neovim")
    mm.long_term.supersede(
        "ada", old.id, new, mm.embedder.embed([new.content])[0], actor="user", reason="switched editors"
    )
    assert mm.long_term.forget("ada", gone.id, actor="user", reason="no longer true")
    result = recall(mm, "ada", "Ada's editor is Emacs Solarized")
    assert [r.memory.id for r in result.items] == [new.id]
    assert old.id not in result.dropped and gone.id not in result.dropped  # not even candidates


def test_users_never_see_each_others_memories(mm: MemoryManager) -> None:
    mine = add(mm, "ada", "Prefers dark mode in every editor")
    theirs = add(mm, "bob", "Prefers dark mode in every editor")
    result = recall(mm, "ada", "dark mode editor")
    assert [r.memory.id for r in result.items] == [mine.id]
    assert theirs.id not in result.dropped
    assert mm.long_term.get("ada", theirs.id) is None
    assert not mm.long_term.forget("ada", theirs.id, actor="user", reason="not mine")
    assert mm.long_term.get("bob", theirs.id).status == "active"


def test_supersede_keeps_the_old_row_and_unindexes_it(mm: MemoryManager) -> None:
    old = add(mm, "ada", "Ada lives in Lisbon")
    new = mm.long_term.supersede(
        "ada",
        old.id,
        MemoryEntry(user_id="ada", content="Ada lives in Porto"),
        mm.embedder.embed(["Ada lives in Porto"])[0],
        actor="user",
        reason="moved",
    )
    stored = mm.long_term.get("ada", old.id)
    assert (stored.status, stored.superseded_by) == ("superseded", new.id)
    assert new.supersedes == old.id
    assert indexed(mm, old.id) == (False, False)
    assert indexed(mm, new.id) == (True, True)
    with pytest.raises(KeyError):
        mm.long_term.supersede(
            "bob",
            new.id,
            MemoryEntry(user_id="bob", content="x"),
            mm.embedder.embed(["x"])[0],
            actor="user",
            reason="not bob's",
        )


def test_forget_is_audited_with_its_reason(mm: MemoryManager) -> None:
    memory = add(mm, "ada", "Ada's manager is Grace")
    assert mm.long_term.forget("ada", memory.id, actor="user", reason="please forget my manager")
    assert mm.long_term.get("ada", memory.id).status == "forgotten"
    assert indexed(mm, memory.id) == (False, False)
    [event] = [e for e in mm.long_term.history("ada") if e.operation == "forget"]
    assert (event.memory_id, event.actor, event.reason) == (memory.id, "user", "please forget my manager")
    assert not mm.long_term.forget("ada", memory.id, actor="user", reason="again")


def test_delete_user_leaves_no_rows_anywhere(mm: MemoryManager, backend: str) -> None:
    for text in ("Ada likes tea", "Ada works on compilers"):
        add(mm, "ada", text)
    kept = add(mm, "bob", "Bob likes tea")
    mm.recall("ada", "tea")  # writes 'read' audit rows
    assert mm.delete_user("ada")["memories"] == 2

    for table in ("memory", "audit"):
        assert rows(mm, f"SELECT id FROM {table} WHERE user_id = ?", "ada") == []
    assert {u for _, u in rows(mm, "SELECT memory_id, user_id FROM memory_vec")} == {"bob"}
    assert {u for _, u in rows(mm, "SELECT rowid, user_id FROM memory_fts")} == {"bob"}
    if backend == "sqlite":  # the sign-bit index, partitioned by "<user>#<stripe>"
        assert {s.rsplit("#", 1)[0] for (s,) in rows(mm, "SELECT stripe FROM memory_vec_bits")} == {"bob"}
    assert [r.memory.id for r in recall(mm, "bob", "tea").items] == [kept.id]


def test_export_returns_memories_and_audit(mm: MemoryManager) -> None:
    memory = add(mm, "ada", "Ada prefers metric units")
    mm.long_term.forget("ada", memory.id, actor="user", reason="changed her mind")
    add(mm, "bob", "Bob prefers imperial units")
    data = mm.export("ada")
    assert [(m["content"], m["status"]) for m in data["memories"]] == [
        ("Ada prefers metric units", "forgotten")
    ]
    assert [a["operation"] for a in data["audit"]] == ["write", "forget"]
    assert {a["user_id"] for a in data["audit"]} == {"ada"}


def test_embedder_mismatch_is_refused_naming_both(home: Path) -> None:
    MemoryManager(load_settings(), embedder="hash").close()
    with pytest.raises(StoreError) as exc:
        MemoryManager(load_settings(), embedder="hash-128")
    assert "'hash-384'" in str(exc.value) and "'hash-128'" in str(exc.value)
    MemoryManager(load_settings(), embedder="hash").close()  # the right one still opens


def test_long_term_memory_alone_on_a_fresh_engine(tmp_path: Path, database_url: str | None) -> None:
    from framework.embeddings import HashEmbedder
    from framework.memory.longterm.migrations import migrate, open_engine

    engine = open_engine(database_url or f"sqlite:///{tmp_path / 'direct.db'}")
    migrate(engine, "hash-16", 16)
    store = LongTermMemory(engine)
    vector = HashEmbedder(16).embed(["Ada uses tabs"])[0]
    memory = store.add(MemoryEntry(user_id="ada", content="Ada uses tabs"), vector)
    assert [r.memory.id for r in store.search(SearchQuery("ada", "tabs"), vector).items] == [memory.id]
    assert database_url or (tmp_path / "direct.db").is_file()
    engine.dispose()


def test_recalls_are_logged_with_ids_scores_and_counts_but_not_the_query(mm: MemoryManager) -> None:
    tea = add(mm, "ada", "Ada likes green tea")
    add(mm, "ada", "Ada is allergic to tea tree oil", confidence=0.1)
    mm.recall("ada", "which tea does Ada like")
    [read] = [e for e in mm.long_term.history("ada") if e.operation == "read"]
    assert read.detail["query_chars"] == len("which tea does Ada like")  # never the user's words
    assert "which tea" not in str(read.detail)
    assert tea.id in read.detail["ids"] and str(tea.id) in read.detail["scores"]
    assert read.detail["counts"]["lexical"] == 2 and read.detail["counts"]["vector"] >= 1
    assert set(read.detail["counts"]) == {"vector", "lexical", "context", "dropped"}


def test_a_failing_vector_index_is_a_warning_and_words_still_answer(mm: MemoryManager) -> None:
    tea = add(mm, "ada", "Ada likes green tea")
    with mm.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE memory_vec")
    result = recall(mm, "ada", "green tea")
    assert [r.memory.id for r in result.items] == [tea.id] and result.items[0].via == "lexical"
    [warning] = result.warnings
    assert warning.startswith("vector signal failed, recall used the others: ") and "memory_vec" in warning


def test_an_import_mixing_chosen_and_new_ids_gets_distinct_ids(mm: MemoryManager) -> None:
    first = add(mm, "ada", "Ada likes tea")
    chosen = (first.id or 0) + 2
    texts = ["Ada likes jazz", "Ada likes chess", "Ada likes rain"]
    entries = [MemoryEntry(id=chosen, user_id="ada", content="Ada likes maps")]
    entries += [MemoryEntry(user_id="ada", content=t) for t in texts]
    mm.long_term.add_many(entries, mm.embedder.embed([e.content for e in entries]))
    ids = [e.id for e in entries]
    assert ids[0] == chosen and len(set(ids) | {first.id}) == 5
    later = add(mm, "ada", "Ada likes snow")  # the next single write does not collide either
    assert later.id not in ids
    stored = rows(mm, "SELECT id, content FROM memory ORDER BY id")
    assert sorted(stored) == sorted(
        [(first.id, "Ada likes tea"), (later.id, "Ada likes snow")] + [(e.id, e.content) for e in entries]
    )
    assert {r[0] for r in rows(mm, "SELECT memory_id FROM memory_vec")} == {r[0] for r in stored}


def test_concurrent_imports_and_writes_all_land(mm: MemoryManager) -> None:
    import threading

    errors: list[BaseException] = []

    def importer(n: int) -> None:
        try:
            for batch in range(3):
                texts = [f"import {n} batch {batch} memory {i}" for i in range(300)]
                entries = [MemoryEntry(user_id=f"user{n}", content=t) for t in texts]
                mm.long_term.add_many(entries, mm.embedder.embed(texts))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(20):
                add(mm, "single", f"single write {i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=importer, args=(n,)) for n in range(2)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [(count, distinct)] = rows(mm, "SELECT count(*), count(DISTINCT id) FROM memory")
    assert count == distinct == 2 * 3 * 300 + 20
    assert rows(mm, "SELECT count(*) FROM memory_vec") == [(count,)]
