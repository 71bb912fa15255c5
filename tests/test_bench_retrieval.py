"""The LoCoMo retrieval benchmark on a tiny file in LoCoMo's format: evidence repaired and counted,
category 5 left out, and an obvious question answered at k=1 by the store's own recall."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from framework.bench.retrieval import measure, repair_evidence
from framework.embeddings import HashEmbedder
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.relevance import periods, told_of, written_in
from framework.memory.longterm.search import SearchQuery, SearchResult
from framework.memory.longterm.store import LongTermMemory

FIGURES = {"any@1", "any@5", "any@10", "all@1", "all@5", "all@10"}
CATEGORIES = {"multi-hop", "temporal", "open-domain", "single-hop"}


def turn(dia_id: str, speaker: str, text: str, **extra: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}


def qa(question: str, category: int, evidence: list[str], answer: object = "x") -> dict[str, object]:
    item: dict[str, object] = {"question": question, "evidence": evidence, "category": category}
    item["adversarial_answer" if category == 5 else "answer"] = answer
    return item


def locomo_file(tmp_path: Path) -> Path:
    ada_and_bob = {
        "sample_id": "conv-a",
        "conversation": {
            "speaker_a": "Ada",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                turn("D1:1", "Ada", "Hi Bob! I just adopted a greyhound named Comet."),
                turn(
                    "D1:2",
                    "Bob",
                    "Congrats! I have been learning the cello for two years.",
                    img_url="http://example.invalid/cello.jpg",
                    blip_caption="a photo of a cello in a sunny room",
                ),
                turn("D1:3", "Ada", "Comet loves running on the beach every morning."),
            ],
            "session_2_date_time": "10:00 am on 20 June, 2023",
            "session_2": [
                turn("D2:1", "Bob", "My orchestra concert is next Friday at the town hall."),
                turn("D2:2", "Ada", "I'll be there! I started pottery classes last week too."),
            ],
            "session_3_date_time": "9:00 am on 1 July, 2023",  # a date with no session: skipped
        },
        "qa": [
            qa("What is the name of Ada's greyhound?", 4, ["D1:1"]),
            qa("Which instrument does Bob play, and where is his concert?", 1, ["D1:2; D2:1"]),
            qa("When did Ada start pottery classes?", 2, ["D:2:02"], answer=2023),
            qa("Would Ada enjoy a dog park?", 3, ["D1:3", "D9:9", "D"]),  # two ids point nowhere
            qa("What does Bob drink?", 4, ["D7:1"]),  # nothing usable left: skipped
            qa("What might Bob do next year?", 3, []),  # no evidence: skipped
            qa("What is Comet's favourite food?", 5, ["D1:3"]),  # adversarial: not scored
        ],
        "observation": {},
        "session_summary": {},
        "event_summary": {},
    }
    other = {
        "sample_id": "conv-b",
        "conversation": {
            "speaker_a": "Cy",
            "speaker_b": "Di",
            "session_1_date_time": "8:00 pm on 2 March, 2022",
            "session_1": [turn("D1:1", "Cy", "I bought a red kayak.")],
        },
        "qa": [qa("What did Cy buy?", 4, ["D1:1"])],
    }
    path = tmp_path / "tiny-locomo.json"
    path.write_text(json.dumps([ada_and_bob, other]))
    return path


def test_report_counts_scored_skipped_and_dropped(tmp_path: Path) -> None:
    report = measure(locomo_file(tmp_path), {"conv-a"}, embedder="hash")
    assert (report["questions"], report["skipped"], report["evidence_dropped"]) == (4, 2, 3)
    assert report["by_category_questions"] == dict.fromkeys(CATEGORIES, 1)
    assert report["conversations"] == ["conv-a"] and report["memories"] == 5
    assert report["embedder"] == "hash-384" and report["seconds"] > 0
    assert set(report["overall"]) == FIGURES and set(report["by_category"]) == CATEGORIES
    for figures in [report["overall"], *report["by_category"].values()]:
        assert set(figures) == FIGURES and all(0.0 <= v <= 1.0 for v in figures.values())
        assert figures["any@1"] <= figures["any@5"] <= figures["any@10"]
        assert all(figures[f"all@{k}"] <= figures[f"any@{k}"] for k in (1, 5, 10))
    assert report["by_category"]["single-hop"]["any@1"] == 1.0  # the greyhound's name, first
    # five memories, a limit of 10: every evidence turn is returned
    assert report["overall"]["all@10"] == 1.0


def test_every_conversation_is_its_own_user(tmp_path: Path) -> None:
    report = measure(locomo_file(tmp_path), embedder="hash")
    assert report["conversations"] == ["conv-a", "conv-b"] and report["questions"] == 5
    assert report["by_category"]["single-hop"]["any@1"] == 1.0


def test_unknown_conversation_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="conv-z"):
        measure(locomo_file(tmp_path), {"conv-z"}, embedder="hash")


def test_evidence_repair() -> None:
    known = {"D8:6", "D9:17", "D11:26", "D30:5"}
    assert repair_evidence(["D8:6; D9:17", "D:11:26", "D30:05", "D", "D10:19"], known) == (
        ("D8:6", "D9:17", "D11:26", "D30:5"),
        2,
    )
    assert repair_evidence(["D8:6", "D8:06"], known) == (("D8:6",), 0)


def test_command_prints_json(tmp_path: Path) -> None:
    env = {**os.environ, "FRAMEWORK_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "bench",
            "retrieval",
            "--locomo",
            str(locomo_file(tmp_path)),
            "--conversations",
            "conv-a",
            "--embedder",
            "hash",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["questions"], report["skipped"], report["evidence_dropped"]) == (4, 2, 3)
    table = subprocess.run(
        [
            sys.executable,
            "-m",
            "framework",
            "bench",
            "retrieval",
            "--locomo",
            str(locomo_file(tmp_path)),
            "--embedder",
            "hash",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert table.returncode == 0, table.stderr
    assert "5 questions scored, 2 skipped" in table.stdout and "single-hop" in table.stdout


# --- recall behaviours the benchmark relies on (they belong with tests/test_longterm.py) -------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LongTermMemory]:
    engine = open_engine(f"sqlite:///{tmp_path / 'recall.db'}")
    migrate(engine, "hash-384", 384)
    yield LongTermMemory(engine)
    engine.dispose()


def remember(
    store: LongTermMemory, texts: list[str], session: str | None = "s1", when: str | None = None
) -> list[int | None]:
    entries = [MemoryEntry(user_id="ada", content=t, session_id=session) for t in texts]
    for entry in entries:
        if when is not None:
            entry.created_at = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return [e.id for e in store.add_many(entries, HashEmbedder().embed(texts))]


def ask(store: LongTermMemory, text: str, with_vector: bool = True) -> SearchResult:
    vector = HashEmbedder().embed([text])[0] if with_vector else None
    return store.search(SearchQuery("ada", text, limit=5), vector)


def test_a_reply_is_found_through_the_question_it_answers(store: LongTermMemory) -> None:
    question, reply, _ = remember(
        store, ["Bob: which instrument are you learning?", "Ada: the cello!", "Bob: nice weather today"]
    )
    result = ask(store, "which instrument are you learning", with_vector=False)
    found = {r.memory.id: r for r in result.items}
    assert found[question].via == "lexical" and found[reply].via == "context"
    assert found[reply].relevance_parts["context"] > 0 and result.candidates["context"] >= 1
    alone = remember(store, ["Bob: which instrument do you play?", "Ada: the drums"], session=None)
    result = ask(store, "which instrument do you play", with_vector=False)
    assert alone[1] not in {r.memory.id for r in result.items}  # no session, no context


def test_a_period_named_in_the_query_favours_memories_written_in_it(store: LongTermMemory) -> None:
    # June is written first and is more recent: without the time signal it would rank first
    [june] = remember(store, ["Ada went hiking"], session=None, when="2023-06-20T10:00:00")
    [may] = remember(store, ["Ada went hiking"], session=None, when="2023-05-08T13:56:00")
    for query in (
        "Where did Ada go hiking in May 2023?",
        "Where did Ada go hiking on 8 May, 2023?",
        "Where did Ada go hiking in May?",
    ):
        top, second = ask(store, query).items
        assert (top.memory.id, second.memory.id) == (may, june), query
        assert top.relevance_parts["time"] > 0 and second.relevance_parts["time"] == 0
        assert 0.0 <= top.signals["relevance"] <= 1.0
        assert sum(top.relevance_parts.values()) == pytest.approx(top.signals["relevance"])
    assert "time" not in ask(store, "Where did Ada go hiking?").items[0].relevance_parts


def test_a_memory_said_by_or_about_whom_the_query_names_gains(store: LongTermMemory) -> None:
    bob, ada = remember(store, ["Bob: we went hiking", "Ada: we went hiking"], session=None)
    result = ask(store, "Where did Ada go hiking?")
    found = {r.memory.id: r for r in result.items}
    assert result.items[0].memory.id == ada
    assert found[ada].relevance_parts["subject"] > 0 and found[bob].relevance_parts["subject"] == 0
    assert sum(found[ada].relevance_parts.values()) == pytest.approx(found[ada].signals["relevance"])


def test_a_memory_speaks_of_an_earlier_period() -> None:
    written = datetime(2023, 4, 10, 9, 0, tzinfo=UTC)
    assert told_of(written, "We went to a convention last month") == [
        (datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 4, 1, tzinfo=UTC))
    ]
    assert written_in(written, periods("in March 2023"), "We went to a convention last month")
    assert written_in(written, periods("in 2022"), "I took that trip two years ago") is False
    assert written_in(written, periods("in 2021"), "I took that trip two years ago")
    assert written_in(written, periods("in March"), "I started three weeks ago")
    assert not written_in(written, periods("in March 2023"), "We went to a convention")


def test_a_signal_that_cannot_run_is_reported(store: LongTermMemory) -> None:
    remember(store, ["Ada likes tea"])
    result = ask(store, "what is it", with_vector=False)
    assert result.items == [] and result.warnings == [
        "vector signal skipped: no query embedding",
        "lexical signal skipped: no searchable words in the query",
    ]


def test_questions_can_be_widened_by_a_query_rewrite(tmp_path: Path) -> None:
    from framework.errors import ModelError
    from framework.llm.testing import Fill, ScriptedModel, fail
    from framework.memory.rewrite import QueryRewriter

    def hints(request: object) -> object:
        question = request.messages[-1].content  # type: ignore[attr-defined]
        if "dog park" in question:
            return Fill({"keywords": ["Comet", "running", "beach"], "answer_guess": "Comet loves running"})
        if "pottery" in question:
            return fail(ModelError("rate limited"))
        return Fill({"keywords": [], "answer_guess": ""})

    plain = measure(locomo_file(tmp_path), {"conv-a"}, embedder="hash")
    model = ScriptedModel([hints] * 4)
    widened = measure(locomo_file(tmp_path), {"conv-a"}, embedder="hash", rewriter=QueryRewriter(model))
    model.assert_consumed()  # one call per question
    # "Would Ada enjoy a dog park?": the turn about Comet running on the beach comes first only
    # with the hints.
    assert plain["by_category"]["open-domain"]["any@1"] == 0.0
    assert widened["by_category"]["open-domain"]["any@1"] == 1.0
    assert "rewrite" not in plain
    assert widened["rewrite"]["questions"] == 4 and widened["rewrite"]["failed"] == 1
    assert widened["rewrite"]["first_failure"] == "ModelError: rate limited"


def test_a_rewrite_model_that_fails_from_the_start_stops_the_bench(tmp_path: Path) -> None:
    from framework.errors import ModelError
    from framework.llm.testing import ScriptedModel, fail
    from framework.memory.rewrite import QueryRewriter

    data = json.loads(locomo_file(tmp_path).read_text())
    data[0]["qa"] = [qa(f"Where does Comet run ({n})?", 4, ["D1:3"]) for n in range(8)]
    (tmp_path / "eight.json").write_text(json.dumps(data))
    model = ScriptedModel([fail(ModelError("connection refused"))] * 8)
    with pytest.raises(
        ModelError, match="failed on each of the first 5 questions; the first: ModelError: connection refused"
    ):
        measure(tmp_path / "eight.json", {"conv-a"}, embedder="hash", rewriter=QueryRewriter(model))
    assert model.remaining == 3  # it stopped asking
