"""`framework memory list | show | recall`: structured retrieval that is never truncated, one
memory by id with its audit trail, and a recall that explains itself. On both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli import main
from framework.config import load_settings
from framework.memory.longterm.records import MemoryEntry
from framework.memory.manager import MemoryManager

pytestmark = pytest.mark.both_backends


def fill(home: Path) -> dict[str, int]:
    """20 billing facts (more than any recall limit), a constraint, a low-confidence guess."""
    m = MemoryManager(load_settings(), embedder="hash")
    ids: dict[str, int] = {}

    def add(content: str, **fields: object) -> None:
        entry = MemoryEntry(user_id="ada", content=content, embedder=m.embedder.name, **fields)
        ids[content] = m.long_term.add(entry, m.embedder.embed([content])[0], reason="test").id or 0

    for n in range(20):
        add(f"Invoice {n} was paid by card", tags=["billing"])
    add("Never email invoices to personal addresses", memory_type="constraint", tags=["billing", "email"])
    add("Ada might prefer paper invoices", confidence=0.3)
    m.close()
    return ids


def cli(*args: str) -> str:
    out = CliRunner().invoke(main, ["memory", *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_list_by_tag_and_type_returns_every_match(home: Path) -> None:
    fill(home)
    billing = cli("list", "--user", "ada", "--tag", "billing").splitlines()
    assert len(billing) == 21 and all("billing" in line for line in billing)
    [rule] = cli("list", "--user", "ada", "--type", "constraint").splitlines()
    assert "constraint" in rule and "Never email invoices" in rule
    assert len(cli("list", "--user", "ada", "--tag", "email", "--tag", "nothing").splitlines()) == 1
    assert (
        cli("list", "--user", "ada", "--tag", "travel") == "no memories for user 'ada' matching the filters\n"
    )


def test_show_gives_one_memory_and_its_audit_trail(home: Path) -> None:
    ids = fill(home)
    out = cli("show", str(ids["Ada might prefer paper invoices"]), "--user", "ada")
    assert "Ada might prefer paper invoices" in out and "confidence: 0.3" in out
    assert "write by runtime: test" in out
    missing = CliRunner().invoke(
        main, ["memory", "show", str(ids["Invoice 1 was paid by card"]), "--user", "bob"]
    )
    assert missing.exit_code != 0 and "not found for user 'bob'" in missing.output


def test_recall_explains_signals_parts_and_drops(home: Path) -> None:
    ids = fill(home)
    out = cli("recall", "paper invoices", "--user", "ada", "--limit", "3", "--min-confidence", "0.5")
    lines = out.splitlines()
    assert lines[0].startswith("candidates: vector ") and " lexical " in lines[0]
    assert lines[1].startswith("1. ") and "relevance" in lines[2] and "confidence" in lines[2]
    assert lines[3].strip().startswith("relevance = lexical ")
    guess = ids["Ada might prefer paper invoices"]
    assert f"dropped #{guess}: confidence 0.30 < 0.50" in out
    assert sum(line.startswith("dropped #") and "below top 3" in line for line in lines) >= 1


def test_a_failing_lexical_index_is_a_warning_and_vectors_still_answer(
    home: Path,
    raw_sql: Callable[..., list[tuple]],  # type: ignore[type-arg]
) -> None:
    fill(home)
    raw_sql("DROP TABLE memory_fts")
    out = cli("recall", "Invoice 7 was paid by card", "--user", "ada")
    assert "warning: lexical signal failed, recall used the others: " in out
    assert "memory_fts" in out  # the database's own words say which index
    assert "1. " in out and "via vector" in out and "candidates: vector " in out


def test_forget_hard_deletes_row_and_index_rows_and_audits_without_content(
    home: Path,
    raw_sql: Callable[..., list[tuple]],  # type: ignore[type-arg]
    backend: str,
) -> None:
    ids = fill(home)
    guess = ids["Ada might prefer paper invoices"]
    other = ids["Invoice 3 was paid by card"]
    assert cli("forget", str(other), "--user", "ada") == f"forgot #{other}\n"  # soft first
    assert (
        cli("forget", str(other), "--user", "ada", "--hard", "--reason", "asked twice")
        == f"deleted #{other}\n"
    )
    assert cli("forget", str(guess), "--user", "ada", "--hard") == f"deleted #{guess}\n"
    for table, key in (("memory", "id"), ("memory_vec", "memory_id"), ("memory_fts", "rowid")):
        assert raw_sql(f"SELECT {key} FROM {table} WHERE {key} IN (?, ?)", guess, other) == []
    if backend == "sqlite":
        assert raw_sql("SELECT rowid FROM memory_vec_bits WHERE rowid IN (?, ?)", guess, other) == []
    deletes = raw_sql("SELECT memory_id, actor, reason FROM audit WHERE operation = 'delete' ORDER BY id")
    assert deletes == [(other, "user", "asked twice"), (guess, "user", "forgotten on request (CLI)")]
    audit_text = " ".join(str(r) for r in raw_sql("SELECT reason, detail FROM audit"))
    assert "paper invoices" not in audit_text
    again = CliRunner().invoke(main, ["memory", "forget", str(guess), "--user", "ada", "--hard"])
    assert again.exit_code != 0 and f"no memory #{guess}" in again.output
    assert len(cli("list", "--user", "ada").splitlines()) == 20


def test_the_id_of_a_deleted_memory_is_never_given_to_another(home: Path) -> None:
    ids = fill(home)
    newest = max(ids.values())
    cli("forget", str(newest), "--user", "ada", "--hard")
    m = MemoryManager(load_settings(), embedder="hash")
    later = m.long_term.add(
        MemoryEntry(user_id="ada", content="Ada likes maps"), m.embedder.embed(["maps"])[0]
    )
    m.close()
    assert (later.id or 0) > newest
    trail = cli("show", str(later.id), "--user", "ada")  # its own audit trail, nobody else's
    assert trail.count(" write by ") == 1 and " delete by " not in trail


def test_recall_shows_the_question_as_the_focused_query_vector_embeds_it(home: Path) -> None:
    m = MemoryManager(load_settings(), embedder="hash")
    texts = [f"Ada paid invoice {n} by card" for n in range(60)]
    for text in texts:
        entry = MemoryEntry(user_id="ada", content=text, embedder=m.embedder.name)
        m.long_term.add(entry, m.embedder.embed([text])[0], reason="test")
    m.close()
    out = cli("recall", "Did Ada pay invoice 7?", "--user", "ada")
    # "ada", "paid", "invoice", "by", "card" are in every memory: "Did pay 7?" is what sets it apart
    assert out.splitlines()[0] == (
        "query vector also embeds, without the words most of the memories share: 'Did pay 7?'"
    )
    as_json = json.loads(cli("recall", "Did Ada pay invoice 7?", "--user", "ada", "--json"))
    assert as_json["query_focus"] == "Did pay 7?"
    assert json.loads(cli("recall", "invoice", "--user", "bob", "--json"))["query_focus"] is None
