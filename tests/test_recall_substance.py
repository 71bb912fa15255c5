"""Recall's substance prior on a real store (both backends): of memories that match a query alike,
the one that states more ranks first; a question states nothing of its own. The prior is a
composite-rank signal with its own weight (0 turns it off), shown in the explanation, and read only
for the candidates it can lift into the top: the top k is the same whatever the limit."""

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from framework.config import load_settings
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.relevance import substance
from framework.memory.longterm.search import SearchQuery, SearchResult
from framework.memory.manager import MemoryManager
from framework.ranking import RankWeights


def test_substance_counts_what_a_memory_states() -> None:
    assert substance("") == 0.0 and substance("?!") == 0.0
    short, longer = substance("walrus basks"), substance("walrus basks near the harbour with seals and gulls")
    assert 0.0 < short < longer < 1.0
    # function words and repeats say nothing more
    assert substance("the walrus basks and it is the walrus that basks") == substance("walrus basks")
    # sixty-four different words say all a memory can
    assert substance(" ".join(f"word{i}" for i in range(64))) == 1.0
    assert substance(" ".join(f"word{i}" for i in range(200))) == 1.0


def test_a_question_states_nothing_of_its_own() -> None:
    statement = "Ada visited the walrus colony at the harbour."
    assert substance("Did Ada visit the walrus colony at the harbour?") == 0.0
    assert substance("Did Ada visit the colony? She saw walruses there!") == pytest.approx(
        substance("Did Ada visit the colony? She saw walruses there!".replace("?", ".")) / 2
    )
    # the last sentence counts whether or not it ends with a mark, and so does an aside after it
    assert substance("Where was it? Ada went to the harbour") > 0.0
    assert substance("Where was it? [shares a photo: a harbour]") > 0.0
    assert substance(statement) > substance("Is this where Ada visited the walrus colony? Yes?")


def test_a_long_run_of_marks_is_read_in_linear_time() -> None:
    """A memory is read for every recall it is a candidate of: a run of marks must not make the
    reading backtrack (an end-anchored pattern took 18 s for 2,000 marks, cubic in the run)."""
    started = time.perf_counter()
    for text in ("?" + "!" * 200_000 + "a", "?" + "?! " * 100_000, "a?" + "." * 200_000):
        assert 0.0 <= substance(text) <= 1.0
    assert time.perf_counter() - started < 5.0  # linear: milliseconds


pytestmark = pytest.mark.both_backends


@pytest.fixture
def mm(home: Path, backend: str) -> Iterator[MemoryManager]:
    manager = MemoryManager(load_settings(), embedder="hash")
    yield manager
    manager.close()


def write(mm: MemoryManager, content: str) -> int:
    entry = MemoryEntry(user_id="ada", content=content, embedder=mm.embedder.name)
    return int(mm.long_term.add(entry, mm.embedder.embed([content])[0], reason="test").id)  # type: ignore[arg-type]


def search(mm: MemoryManager, text: str, limit: int = 10, **weights: float) -> SearchResult:
    mm.long_term.retrieval.weights = replace(RankWeights(), **weights)
    return mm.long_term.search(SearchQuery("ada", text, limit=limit), mm.embedder.embed([text])[0])


def test_the_memory_that_says_more_ranks_first_and_the_weight_is_explained(mm: MemoryManager) -> None:
    asks = write(mm, "Did the walrus bask by the harbour?")
    tells = write(
        mm, "The walrus basked by the harbour all afternoon while fishing boats unloaded crates of cod."
    )
    plain = search(mm, "walrus harbour", substance=0.0)
    assert [r.memory.id for r in plain.items] == [asks, tells]  # the shorter matches more densely
    assert all(r.signals["substance"] == 0.0 for r in plain.items)  # off: not read

    weighed = search(mm, "walrus harbour", substance=0.2)
    assert [r.memory.id for r in weighed.items] == [tells, asks]
    by_id = {r.memory.id: r for r in weighed.items}
    assert by_id[asks].signals["substance"] == 0.0
    assert by_id[tells].signals["substance"] == pytest.approx(substance(by_id[tells].memory.content))
    for before in plain.items:  # the score rises by exactly the weighted signal
        after = by_id[before.memory.id]
        assert after.score == pytest.approx(before.score + 0.2 * after.signals["substance"])
        assert after.signals["relevance"] == pytest.approx(before.signals["relevance"])


def test_the_top_is_the_same_whatever_the_limit(mm: MemoryManager) -> None:
    """Substance is read only where it can lift a candidate into the top `limit`; skipping the
    others never changes which memories are returned (context off: it flows from the top
    `limit` direct matches, so it depends on the limit by design)."""
    subjects = ["walrus", "harbour", "gull", "seal", "boat", "crate", "cod", "tide", "pier", "net"]
    for i in range(60):
        words = [subjects[i % 10], subjects[(i * 3) % 10]]
        tail = " ".join(f"detail{j}" for j in range(i % 13))
        write(mm, f"The {words[0]} met the {words[1]} {tail}{'?' if i % 4 == 0 else '.'}")
    for text in ("walrus harbour", "gull seal", "cod tide pier", "net"):
        everything = [r.memory.id for r in search(mm, text, limit=200, context=0.0, substance=0.2).items]
        assert len(everything) > 10
        for limit in (1, 3, 7):
            top = [r.memory.id for r in search(mm, text, limit=limit, context=0.0, substance=0.2).items]
            assert top == everything[:limit], (text, limit)
