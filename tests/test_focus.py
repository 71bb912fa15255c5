"""The query vector focused on what sets a question apart (framework.memory.longterm.focus): the
words most of a user's memories share are counted per user, left out of a second embedding of the
question, and the two embeddings combined; erasing the user drops what was counted."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from framework.config import load_settings
from framework.embeddings import HashEmbedder
from framework.errors import ConfigurationError
from framework.memory.longterm.focus import MIN_MEMORIES, combine, common_words, focused
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.store import LongTermMemory
from framework.ranking import RankWeights

TOPICS = [
    "the cello lessons on Tuesday",
    "a greyhound named Comet",
    "pottery classes downtown",
    "the orchestra concert at the town hall",
    "a red kayak for the lake",
    "learning Rust on weekends",
    "the garden full of tomatoes",
    "a trip to Lisbon in May",
    "baking sourdough bread",
    "running the city marathon",
]


def conversation(n: int) -> list[str]:
    """n turns of Ada and Bob, each about one topic."""
    speakers = ("Ada", "Bob")
    return [f"{speakers[i % 2]}: I keep thinking about {TOPICS[i % len(TOPICS)]} ({i})" for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LongTermMemory]:
    engine = open_engine(f"sqlite:///{tmp_path / 'focus.db'}")
    migrate(engine, "hash-384", 384)
    yield LongTermMemory(engine)
    engine.dispose()


def remember(store: LongTermMemory, user: str, texts: list[str]) -> None:
    entries = [MemoryEntry(user_id=user, content=t) for t in texts]
    store.add_many(entries, HashEmbedder().embed(texts))


class Recording:
    """An embedder's embed that records each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return HashEmbedder().embed(texts)


def test_common_words_are_those_most_memories_share() -> None:
    texts = conversation(60)
    common = common_words(texts, 0.2)
    assert {"ada", "bob", "i", "keep", "thinking", "about"} <= common
    assert not {"cello", "greyhound", "kayak", "lisbon"} & common  # each in a tenth of them
    assert common_words(texts[: MIN_MEMORIES - 1], 0.2) == frozenset()  # too few to tell
    assert "cello" in common_words(texts, 0.1)  # the share decides


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Ada say about the cello?", "What did say the cello?"),
        ("Where is Ada's kayak?", "Where is 's kayak?"),
        ("ADA, BOB: which concert?", ", : which concert?"),
        ("Which concert did they go to?", None),  # no common word in it
        ("What did Ada do with Bob?", None),  # nothing searchable left
        ("", None),
    ],
)
def test_a_question_without_the_common_words(question: str, expected: str | None) -> None:
    assert focused(question, frozenset({"ada", "bob", "about"})) == expected


def test_no_common_words_leaves_the_question_alone() -> None:
    assert focused("What did Ada say?", frozenset()) is None


def test_the_two_embeddings_are_combined_to_unit_length() -> None:
    asked, focus = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    mixed = combine(asked, focus, 0.5)
    assert mixed == pytest.approx([math.sqrt(0.5), math.sqrt(0.5), 0.0])
    assert combine(asked, focus, 0.0) == pytest.approx(asked)
    assert combine(asked, focus, 1.0) == pytest.approx(focus)
    assert combine([1.0, 0.0], [-1.0, 0.0], 0.5) == [1.0, 0.0]  # cancelled out: the question as asked


def test_the_query_vector_leaves_out_what_the_users_memories_share(store: LongTermMemory) -> None:
    remember(store, "ada", conversation(60))
    embed = Recording()
    vector = store.query_vector("ada", "What did Ada say about the cello?", embed)
    assert embed.calls == [["What did Ada say about the cello?", "What did say cello?"]]
    asked, focus = HashEmbedder().embed(embed.calls[0])
    assert vector == pytest.approx(combine(asked, focus, RankWeights().focus))
    assert vector != pytest.approx(asked)


def test_words_are_counted_per_user(store: LongTermMemory) -> None:
    remember(store, "ada", conversation(60))
    remember(store, "cy", [f"Cy: note {i} about the cello" for i in range(MIN_MEMORIES)])
    embed = Recording()
    store.query_vector("cy", "What did Ada say about the cello?", embed)
    # Cy's memories share "cy", "note", "about", "the", "cello": not Ada's names
    assert embed.calls == [["What did Ada say about the cello?", "What did Ada say ?"]]
    store.query_vector("new-user", "What did Ada say about the cello?", embed)
    assert embed.calls[-1] == ["What did Ada say about the cello?"]  # no memories: nothing common


def test_a_user_with_few_memories_or_focus_off_embeds_the_question_once(store: LongTermMemory) -> None:
    remember(store, "ada", conversation(MIN_MEMORIES - 1))
    embed = Recording()
    assert store.query_vector("ada", "What did Ada say about the cello?", embed) == pytest.approx(
        HashEmbedder().embed(["What did Ada say about the cello?"])[0]
    )
    assert embed.calls == [["What did Ada say about the cello?"]]
    assert store.query_vector("ada", "   ", embed) is None and len(embed.calls) == 1

    remember(store, "bob", conversation(60))
    store.retrieval.weights = replace(RankWeights(), focus=0.0)
    store.query_vector("bob", "What did Ada say about the cello?", embed)
    assert embed.calls[-1] == ["What did Ada say about the cello?"]


def test_erasing_a_user_drops_what_was_counted_of_their_words(store: LongTermMemory) -> None:
    remember(store, "ada", conversation(60))
    assert store.query_texts("ada", "What did Ada say about the cello?") == [
        "What did Ada say about the cello?",
        "What did say cello?",
    ]
    store.delete_user("ada")
    question = "What did Ada say about the cello?"
    assert store.query_texts("ada", question) == [question]


def test_recall_ranks_the_memory_about_what_was_asked_first(store: LongTermMemory) -> None:
    from framework.memory.longterm.search import SearchQuery

    texts = conversation(60)
    remember(store, "ada", texts)
    question = "What did Ada say about the greyhound named Comet?"
    vector = store.query_vector("ada", question, HashEmbedder().embed)
    found = store.search(SearchQuery("ada", question, limit=3), vector)
    assert "greyhound named Comet" in found.items[0].memory.content


@pytest.mark.parametrize("bad", ["focus: 1.5", "common_share: -0.1"])
def test_focus_weights_out_of_range_are_refused_naming_them(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(f"recall_weights:\n  {bad}\n")
    monkeypatch.setenv("FRAMEWORK_HOME", str(home))
    with pytest.raises(ConfigurationError, match=f"{bad.split(':')[0]} must be a share"):
        load_settings()


def test_a_count_begun_before_an_erasure_is_not_kept(
    store: LongTermMemory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user is erased (by another thread) while their latest memories are being counted:
    what that count found is used once, never kept for the next recall."""
    from framework.memory.longterm import focus

    remember(store, "ada", conversation(60))
    counted = focus.common_words

    def erased_meanwhile(contents: list[str], share: float) -> frozenset[str]:
        store.delete_user("ada")
        return counted(contents, share)

    monkeypatch.setattr(focus, "common_words", erased_meanwhile)
    question = "What did Ada say about the cello?"
    assert len(store.query_texts("ada", question)) == 2  # the count read before the erasure
    monkeypatch.setattr(focus, "common_words", counted)
    assert store.query_texts("ada", question) == [question]  # counted again: nothing left
