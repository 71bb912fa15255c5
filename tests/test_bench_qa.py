"""`framework bench qa`: the scoring (F1, BLEU-1, the judge's verdict, sums by category, cost),
a whole run on a tiny LoCoMo-format sample with ScriptedModel (ingest through the agent's memory
operations, answers by the agent, resume), the CLI, and the same run on the wire: HTTP exchanges
with llama-cpp-python + SmolLM2-135M recorded in cassettes/bench_qa.json and replayed strictly.
Re-record with the server up: `FRAMEWORK_RECORD=1 pytest tests/test_bench_qa.py -k wire`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

# tests/ has no __init__.py: pytest's default "prepend" import mode puts it on sys.path
from test_llm_wire import assert_replayed, cassette, smollm

from framework.bench.qa import load, run
from framework.bench.qa_scoring import bleu1, f1, parse_verdict, percentile, price, summarize
from framework.cli import main
from framework.config import load_settings
from framework.llm.testing import Fill, ScriptedModel, say
from framework.memory.longterm.migrations import open_engine
from framework.memory.longterm.store import LongTermMemory
from framework.steps.intent import Intent

SAMPLE = [
    {
        "sample_id": "conv-tiny",
        "conversation": {
            "speaker_a": "Alice",
            "speaker_b": "Bob",
            "session_1_date_time": "10:00 am on 3 March, 2023",
            "session_1": [
                {
                    "speaker": "Alice",
                    "dia_id": "D1:1",
                    "text": "I adopted a cat last week, her name is Miso.",
                },
                {
                    "speaker": "Bob",
                    "dia_id": "D1:2",
                    "text": "Congrats! I am training for the city marathon.",
                },
            ],
            "session_2_date_time": "4:00 pm on 20 March, 2023",
            "session_2": [
                {"speaker": "Bob", "dia_id": "D2:1", "text": "I ran the city marathon yesterday."},
                {
                    "speaker": "Alice",
                    "dia_id": "D2:2",
                    "text": "Amazing! Look at Miso.",
                    "blip_caption": "a photo of a cat on a keyboard",
                },
            ],
            "session_3_date_time": "9:00 am on 1 April, 2023",  # a date with no session: skipped
        },
        "qa": [
            {
                "question": "What is the name of Alice's cat?",
                "answer": "Miso",
                "evidence": ["D1:1"],
                "category": 4,
            },
            {
                "question": "When did Bob run the city marathon?",
                "answer": "19 March 2023",
                "evidence": ["D2:1"],
                "category": 2,
            },
            {"question": "What is Bob's cat called?", "adversarial_answer": "Miso", "category": 5},
        ],
    }
]
FACTS = [
    "Alice has a cat named Miso, adopted in late February 2023",
    "Bob ran the city marathon on 19 March 2023",
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SAMPLE), encoding="utf-8")
    return path


def _extraction(content: str) -> Fill:
    memory = {"content": content, "memory_type": "fact", "confidence": 0.95}
    return Fill({"memories": [memory]}, expect="Extraction")


def _asked() -> Intent:
    return Intent(goal="know a fact", task_type="question", memory_query="")


# --- scoring ---------------------------------------------------------------------------------


def test_f1_ignores_case_punctuation_articles_and_order() -> None:
    assert f1("Miso", "miso.") == 1.0
    assert f1("May 7, 2023", "7 May 2023") == 1.0
    assert f1("the cat", "a cat") == 1.0
    assert f1("adoption agencies", "Adoption agencies and counselling") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1("I do not know", "Miso") == 0.0
    assert f1("", "Miso") == 0.0 and f1("", "") == 1.0


def test_bleu1_is_clipped_unigram_precision_with_brevity_penalty() -> None:
    assert bleu1("Miso", "Miso") == 1.0
    assert bleu1("cat cat cat", "cat") == pytest.approx(1 / 3)  # clipped: "cat" counts once
    short = bleu1("2023", "7 May 2023")  # precise but short: penalised
    assert short == pytest.approx(math.exp(1 - 3))
    assert bleu1("no idea", "Miso") == 0.0


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"reasoning": "same name", "label": "CORRECT"}', True),
        ('{"label": "wrong"}', False),
        ('Here you go:\n```json\n{"reasoning": "differs", "label": "WRONG"}\n```', False),
        ("The answer is INCORRECT.", False),
        ("It looked wrong at first, but it is CORRECT", True),  # the last label is the verdict
        ('{"label": "maybe"} so: correct', True),  # an unusable JSON label: the text decides
        ("I cannot tell.", None),
        ("", None),
        (None, None),
    ],
)
def test_judge_verdict_is_read_from_json_or_text(reply: str | None, verdict: bool | None) -> None:
    assert parse_verdict(reply) is verdict


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0
    assert percentile(range(1, 101), 95) == 95
    assert percentile([5.0], 95) == 5.0


def _record(category: str, correct: bool | None, f1_: float, model: str = "scripted") -> dict[str, Any]:
    return {
        "id": f"c#{category}{f1_}",
        "conversation": "c",
        "category": category,
        "correct": correct,
        "f1": f1_,
        "bleu1": f1_ / 2,
        "latency_ms": 100.0 * (1 + f1_),
        "calls": 2,
        "prompt_tokens": 300,
        "completion_tokens": 30,
        "answer_calls": 1,
        "answer_prompt_tokens": 200,
        "answer_completion_tokens": 20,
        "judge_calls": 1,
        "judge_prompt_tokens": 100,
        "judge_completion_tokens": 10,
        "model": model,
        "judge_model": model,
    }


def test_summary_by_category_counts_unreadable_verdicts_wrong() -> None:
    records = [
        _record("temporal", True, 1.0),
        _record("temporal", False, 0.0),
        _record("single-hop", None, 0.5),
        _record("single-hop", True, 0.5),
    ]
    ingest = [{"model": "scripted", "calls": 4, "prompt_tokens": 0, "completion_tokens": 0, "written": 3}]
    s = summarize(records, ["multi-hop", "temporal", "open-domain", "single-hop"], ingest)
    assert s["overall"] == {"questions": 4, "J": 0.5, "F1": 0.5, "BLEU-1": 0.25, "unjudged": 1}
    assert s["by_category"]["temporal"]["J"] == 0.5
    assert s["by_category"]["single-hop"] == {
        "questions": 2,
        "J": 0.5,
        "F1": 0.5,
        "BLEU-1": 0.25,
        "unjudged": 1,
    }
    assert "multi-hop" not in s["by_category"]  # no question of it: no row of zeros
    assert s["per_question"]["answer"] == {"calls": 1.0, "tokens": 220.0}
    assert s["per_question"]["memory_work"] == {"calls": 1.0, "tokens": 110.0}
    assert s["per_question"]["judge"] == {"calls": 1.0, "tokens": 110.0}
    assert s["latency_ms"] == {"p50": 150.0, "p95": 200.0}
    assert s["ingest"]["calls"] == 4 and s["ingest"]["written"] == 3
    # a model litellm has no price for costs "n/a" (None), not 0
    assert s["cost_usd"] == dict.fromkeys(("ingest", "answers", "memory_work", "judge", "total"))


def test_cost_comes_from_litellms_price_map() -> None:
    assert price("openai/smollm2", 1000, 100) is None
    assert price("scripted", 1000, 100) is None
    usd = price("gpt-4o-mini", 1_000_000, 1_000_000)
    assert usd is not None and 0.1 < usd < 5.0  # input and output per million, as the map says
    records = [_record("temporal", True, 1.0, model="gpt-4o-mini")]
    s = summarize(records, ["temporal"], [])
    assert s["cost_usd"]["answers"] == pytest.approx(price("gpt-4o-mini", 200, 20))
    assert s["cost_usd"]["total"] == pytest.approx(price("gpt-4o-mini", 400, 40))


def test_loading_keeps_sessions_dates_captions_and_answerable_questions(dataset: Path) -> None:
    (sample,) = load(dataset)
    assert [s.number for s in sample.sessions] == [1, 2]
    assert sample.sessions[1].date == "4:00 pm on 20 March, 2023"
    assert (
        sample.sessions[1].lines[1]
        == "Alice: Amazing! Look at Miso. [shares a photo: a photo of a cat on a keyboard]"
    )
    assert [(q.id, q.category, q.gold) for q in sample.questions] == [
        ("conv-tiny#0", "single-hop", "Miso"),
        ("conv-tiny#1", "temporal", "19 March 2023"),
    ]
    with pytest.raises(ValueError, match="no conversation with sample_id"):
        load(dataset, {"conv-99"})
    bad = dataset.with_name("bad.json")
    bad.write_text('[{"qa": []}]')
    with pytest.raises(ValueError, match="not a LoCoMo-format file"):
        load(bad)


# --- a whole run, ScriptedModel ----------------------------------------------------------------


def test_run_ingests_through_memory_answers_with_the_agent_and_judges(home: Path, dataset: Path) -> None:
    model = ScriptedModel(
        [_extraction(FACTS[0]), _extraction(FACTS[1]), say("Miso"), say("In 2022"), _asked(), _asked()]
    )
    judge = ScriptedModel([say('{"reasoning": "same", "label": "CORRECT"}'), say("WRONG: another year")])
    out = home.parent / "results.jsonl"
    summary = run(dataset, model, out, judge_model=judge, echo=lambda _: None)
    model.assert_consumed()
    judge.assert_consumed()

    extract = [r for r in model.requests if r.response_model and r.response_model.__name__ == "Extraction"]
    assert len(extract) == 2  # one per session: both fit in one chunk
    assert "between Alice and Bob on 10:00 am on 3 March, 2023 (session 1)" in extract[0].text
    assert "Alice: I adopted a cat last week" in extract[0].text
    assert "on 4:00 pm on 20 March, 2023 (session 2)" in extract[1].text
    answers = [r for r in model.requests if r.kind == "complete"]
    assert answers[0].messages[-1].content == "What is the name of Alice's cat?"
    assert FACTS[0] in answers[0].text  # the memory the ingest wrote was recalled for the answer
    assert "Gold answer: 19 March 2023" in judge.requests[1].text
    assert "Generated answer: In 2022" in judge.requests[1].text

    engine = open_engine(load_settings(out.with_name("results.memory")).database_url)
    stored = LongTermMemory(engine).all_entries("conv-tiny")
    engine.dispose()
    assert sorted(m.content for m in stored) == sorted(FACTS)

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["category"], r["verdict"], r["f1"]) for r in lines] == [
        ("conv-tiny#0", "single-hop", "CORRECT", 1.0),
        ("conv-tiny#1", "temporal", "WRONG", 0.0),
    ]
    first = lines[0]
    assert first["question"] == "What is the name of Alice's cat?" and first["gold"] == "Miso"
    assert first["answer"] == "Miso" and first["correct"] is True and first["bleu1"] == 1.0
    assert first["calls"] == 2 and first["answer_calls"] == 1  # the answer, then the intent after it
    assert first["judge_calls"] == 1 and first["latency_ms"] > 0 and first["error"] is None
    assert summary["overall"]["J"] == 0.5 and summary["by_category"]["temporal"]["J"] == 0.0
    assert summary["ingest"]["written"] == 2 and summary["ingest"]["calls"] == 2
    assert summary["questions"] == summary["selected"] == 2  # category 5 is left out


def test_resume_skips_questions_answered_and_conversations_ingested(home: Path, dataset: Path) -> None:
    out = home.parent / "results.jsonl"
    first = ScriptedModel([_extraction(FACTS[0]), _extraction(FACTS[1]), say("Miso"), _asked()])
    judge = ScriptedModel([say('{"label": "CORRECT"}')])
    summary = run(dataset, first, out, judge_model=judge, limit=1, echo=lambda _: None)
    first.assert_consumed()
    assert summary["questions"] == 1 and summary["selected"] == 1

    with pytest.raises(ValueError, match="already holds results: pass --resume"):
        run(dataset, ScriptedModel(), out, judge_model=judge, echo=lambda _: None)
    with pytest.raises(ValueError, match="cannot resume a run with other settings .*chunk was 6, now 2"):
        run(dataset, ScriptedModel(), out, judge_model=judge, resume=True, chunk=2, echo=lambda _: None)

    with out.open("a") as f:
        f.write('{"id": "conv-tiny#1", "cut off by a cra')  # a crash in the middle of a line
    second = ScriptedModel([say("19 March 2023"), _asked()])  # no extraction: already ingested
    judge = ScriptedModel([say('{"label": "CORRECT"}')])
    summary = run(dataset, second, out, judge_model=judge, resume=True, echo=lambda _: None)
    second.assert_consumed()
    judge.assert_consumed()
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["conv-tiny#0", "conv-tiny#1"]
    assert summary["questions"] == 2 and summary["overall"]["J"] == 1.0
    assert summary["ingest"]["conversations"] == 1 and summary["ingest"]["written"] == 2

    idle = ScriptedModel()  # nothing left to do: the figures again, no call made
    assert run(dataset, idle, out, judge_model=idle, resume=True, echo=lambda _: None) == summary


def test_cli_prints_figures_by_category(home: Path, dataset: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(
        "\n".join(
            [
                f"- {{fill: {{memories: [{{content: '{FACTS[0]}', memory_type: fact, confidence: 0.9}}]}}, "
                "type: Extraction}",
                "- {fill: {memories: []}, type: Extraction}",
                "- {say: Miso}",
                "- {say: 'CORRECT'}",
                "- {say: 'I do not remember'}",
                "- {say: 'WRONG'}",
                "- {fill: {goal: ask, task_type: question}, type: Intent}",
                "- {fill: {goal: ask, task_type: question}, type: Intent}",
            ]
        )
    )
    out = tmp_path / "cli.jsonl"
    args = ["bench", "qa", "--model", f"scripted:{script}", "--dataset", str(dataset), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "LoCoMo QA: 2 questions judged (of 2 selected)" in result.output
    assert "  overall         2  0.500  0.500   0.500" in result.output
    assert "  single-hop      1  1.000  1.000   1.000" in result.output
    assert "answer latency p50" in result.output and "total n/a" in result.output
    assert "1 memories written" in result.output

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "pass --resume" in again.output


# --- the wire: a real OpenAI-compatible server, replayed ----------------------------------------


@pytest.mark.wire
def test_wire_run_on_a_tiny_sample(home: Path, dataset: Path) -> None:
    """Every LLM request of a run (extraction, comparison, answer, intent, judge) on the wire,
    its replies parsed and counted: the calls the run reports are the requests the cassette holds.
    A 135M model: what it answers and how the judge grades it prove nothing."""
    out = home.parent / "wire.jsonl"
    with cassette("bench_qa") as tape:
        summary = run(dataset, smollm(), out, echo=lambda _: None)
    assert_replayed(tape)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["conv-tiny#0", "conv-tiny#1"]
    for r in lines:
        assert isinstance(r["answer"], str) and r["answer_calls"] == 1 and r["answer_prompt_tokens"] > 0
        assert r["judge_calls"] == 1 and r["judge_prompt_tokens"] > 0 and r["judge_reply"]
        assert r["verdict"] in ("CORRECT", "WRONG", None) and 0.0 <= r["f1"] <= 1.0
    requests = summary["ingest"]["calls"] + sum(r["calls"] + r["judge_calls"] for r in lines)
    assert requests == len(tape)
    assert summary["cost_usd"]["total"] is None  # litellm has no price for a local model
