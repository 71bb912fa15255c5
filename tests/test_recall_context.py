"""Recall's context signal on a real store (both backends): a memory written next to a strong match
in the same session inherits part of its match — up to two places away on each side, half as much
at the second — skipping memories no longer active and never crossing into another session."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.config import load_settings
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import RankedMemory, SearchQuery
from framework.memory.manager import MemoryManager

pytestmark = pytest.mark.both_backends


@pytest.fixture
def mm(home: Path, backend: str) -> Iterator[MemoryManager]:
    manager = MemoryManager(load_settings(), embedder="hash")
    yield manager
    manager.close()


def write(mm: MemoryManager, session: str, content: str) -> int:
    entry = MemoryEntry(user_id="ada", content=content, session_id=session, embedder=mm.embedder.name)
    return int(mm.long_term.add(entry, mm.embedder.embed([content])[0], reason="test").id)  # type: ignore[arg-type]


def found(mm: MemoryManager, text: str) -> dict[int, RankedMemory]:
    query = SearchQuery("ada", text, limit=20)
    return {item.memory.id: item for item in mm.long_term.search(query, mm.embedder.embed([text])[0]).items}  # type: ignore[misc]


def test_the_memories_next_to_a_match_inherit_its_context(mm: MemoryManager) -> None:
    fillers = ["quinces ripen slowly", "the kettle whistled", "ledgers were balanced"]
    before = [write(mm, "s1", text) for text in fillers]
    hit = write(mm, "s1", "a walrus basked by the harbour")
    other = write(mm, "s2", "gravel paths crunch underfoot")  # next by id, another session
    after = [write(mm, "s1", text) for text in ("violins were tuned", "moss covers the wall", "plums fell")]

    items = found(mm, "walrus harbour")
    assert hit in items and items[hit].via != "context"
    context = {mid: items[mid].relevance_parts["context"] for mid in items if items[mid].via == "context"}
    # two places on each side of the match, the second inheriting half as much as the first
    assert set(context) == {before[1], before[2], after[0], after[1]}
    assert context[before[2]] == pytest.approx(context[after[0]]) and context[after[0]] > 0
    assert context[before[1]] == pytest.approx(context[before[2]] / 2)
    assert context[after[1]] == pytest.approx(context[after[0]] / 2)
    assert other not in items and before[0] not in items and after[2] not in items

    # a memory no longer active is skipped: the next one in the session takes its place
    assert mm.long_term.delete("ada", after[0], actor="user", reason="test")
    items = found(mm, "walrus harbour")
    context = {mid: items[mid].relevance_parts["context"] for mid in items if items[mid].via == "context"}
    assert set(context) == {before[1], before[2], after[1], after[2]}
    assert context[after[1]] == pytest.approx(context[before[2]])
    assert context[after[2]] == pytest.approx(context[after[1]] / 2)


def test_a_superseded_neighbour_is_skipped_and_a_distant_one_is_not_context(mm: MemoryManager) -> None:
    """A memory kept for audit (superseded) is no neighbour; nor is a memory of the session written
    more than 64 memories later (context looks a short way by id)."""
    first = write(mm, "s1", "quinces ripen slowly")
    old = write(mm, "s1", "the kettle whistled")
    hit = write(mm, "s1", "a walrus basked by the harbour")
    replacement = MemoryEntry(
        user_id="ada", content="the kettle sang", session_id="s9", embedder=mm.embedder.name
    )
    mm.long_term.supersede(
        "ada", old, replacement, mm.embedder.embed(["the kettle sang"])[0], actor="user", reason="test"
    )
    fillers = [f"gravel path number {i}" for i in range(70)]
    entries = [
        MemoryEntry(user_id="ada", content=t, session_id="s2", embedder=mm.embedder.name) for t in fillers
    ]
    mm.long_term.add_many(entries, mm.embedder.embed(fillers))
    distant = write(mm, "s1", "violins by the harbour")  # a match of its own, too far to be context

    items = found(mm, "walrus harbour")
    context = {mid for mid in items if items[mid].via == "context"}
    assert hit in items and context == {first}
    assert old not in items
    assert items[distant].via != "context" and items[distant].relevance_parts["context"] == 0
