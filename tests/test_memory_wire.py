"""Wire-level tests of the memory-operation calls (extraction, comparison, outcome judgment)
through LiteLLMModel: HTTP exchanges with llama-cpp-python + SmolLM2-135M recorded in cassettes/
and replayed strictly, with no server. Re-record with the server up:
`FRAMEWORK_RECORD=1 pytest tests/test_memory_wire.py`.

A 135M model is weak: these tests prove the wire (prompt rendered, schema sent, reply parsed and
validated into the plain pydantic class, usage counted, failures translated), not the judgment.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import vcr
from pydantic import BaseModel

# tests/ has no __init__.py: pytest's default "prepend" import mode puts it on sys.path
from test_llm_wire import assert_replayed, cassette, smollm

from framework.errors import ModelError, ModelNotConfigured
from framework.llm import LiteLLMModel, Message
from framework.llm.messages import Usage
from framework.memory.governance.candidates import Comparison, Extraction, MemoryCandidate, PairVerdict
from framework.memory.governance.curation import SimilarPair
from framework.memory.governance.extraction import comparer, extract
from framework.memory.longterm.records import MemoryEntry, MemorySource, MemoryType
from framework.outcome import Exchange, Outcome, ToolCallRecord
from framework.steps.evaluate import judge

pytestmark = pytest.mark.wire

RELATIONS = set(typing.get_args(PairVerdict.model_fields["relation"].annotation))
STATUSES = set(typing.get_args(typing.get_type_hints(Outcome)["status"]))


def test_extraction() -> None:
    known = [
        MemoryEntry(id=3, user_id="u1", content="The user writes scripts in Bash", memory_type="preference")
    ]
    with cassette("memory_extract") as tape:
        extraction, usage = extract(
            smollm(),
            Exchange(
                "I prefer Python over JavaScript for scripts",
                "Noted.",
                [],
                Outcome("none", "answered without acting"),
            ),
            known,
        )
    assert_replayed(tape)
    assert type(extraction) is Extraction  # the plain class, not instructor's subclass
    for m in extraction.memories:
        assert type(m) is MemoryCandidate and 0.0 <= m.confidence <= 1.0
    assert usage.calls == len(tape) >= 1
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def _pair(candidate: str, existing: str, memory_type: MemoryType) -> SimilarPair:
    new = MemoryCandidate(content=candidate, memory_type=memory_type, confidence=0.9)
    old = MemoryEntry(
        id=7,
        user_id="u1",
        content=existing,
        memory_type=memory_type.value,
        confidence=0.8,
        source=MemorySource.explicit.value,
    )
    return SimilarPair(0, new, [old])


def test_comparison() -> None:
    usage = Usage()
    pair = _pair("The user lives in Paris", "The user lives in Berlin", MemoryType.fact)
    with cassette("memory_compare") as tape:
        comparison = comparer(smollm(), usage)([pair])
    assert_replayed(tape)
    assert type(comparison) is Comparison
    for v in comparison.verdicts:  # the tiny model answers this pair with no verdict at all
        assert type(v) is PairVerdict and v.relation in RELATIONS
    assert usage.calls == len(tape) >= 1
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def _runaway_pair() -> SimilarPair:
    """On this pair SmolLM2 repeats verdicts without end: the schema's list has no maxItems, so the
    grammar never forces `]`, and uncapped each attempt runs into the timeout. Capped by
    max_tokens, the first reply's arguments are cut mid-JSON."""
    return _pair(
        "The user prefers Python over JavaScript for scripts",
        "The user prefers JavaScript for scripts",
        MemoryType.preference,
    )


def test_comparison_cut_short_is_retried_with_the_error() -> None:
    usage = Usage()
    with cassette("memory_compare_retry") as tape:
        comparison = comparer(smollm(max_tokens=200), usage)([_runaway_pair()])
    assert_replayed(tape)
    assert len(tape) > 1, "re-record: the first reply was complete, nothing was retried"
    retry = json.loads(tape.requests[1].body)["messages"]
    assert retry[-1]["role"] == "tool" and "json_invalid" in retry[-1]["content"]
    assert type(comparison) is Comparison
    for v in comparison.verdicts:  # recorded: two verdicts about a candidate and id that do not exist
        assert type(v) is PairVerdict and v.relation in RELATIONS
    recorded = [json.loads(r["body"]["string"])["usage"] for r in tape.responses]
    assert usage.calls == len(tape)
    assert usage.prompt_tokens == sum(u["prompt_tokens"] for u in recorded)
    assert usage.completion_tokens == sum(u["completion_tokens"] for u in recorded)


def test_comparison_cut_short_without_retries_is_a_model_error() -> None:
    usage = Usage()
    with cassette("memory_compare_cut") as tape, pytest.raises(ModelError, match="failed"):
        comparer(smollm(max_tokens=200, retries=0), usage)([_runaway_pair()])
    assert_replayed(tape)
    assert len(tape) == 1
    assert usage.calls == 0  # a failed call adds nothing to the turn's usage


def test_outcome_judgment() -> None:
    failed = ToolCallRecord(
        name="run_tests",
        arguments={"path": "tests/"},
        verdict="allow",
        gate_reasons=[],
        policies=[],
        ok=False,
        result="3 tests failed: test_login, test_logout, test_signup",
    )
    with cassette("memory_judge") as tape:
        outcome, usage = judge(
            smollm(), "Run the test suite and make it pass", [failed], "I ran the tests; three failed."
        )
    assert_replayed(tape)
    assert type(outcome) is Outcome and outcome.judged_by == "model"
    assert outcome.status in STATUSES  # the tiny model says "success" here: schema-valid, wrong
    assert isinstance(outcome.summary, str) and all(isinstance(f, str) for f in outcome.failures)
    assert usage.calls == len(tape) >= 1
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


class _Anything(BaseModel):
    text: str


def test_unknown_provider_is_not_configured(tmp_path: Path) -> None:
    """litellm refuses the provider before any request: an empty cassette in "none" mode would
    turn a request into an error (a ModelError, not ModelNotConfigured) and count it."""
    offline = vcr.VCR(record_mode="none")
    with offline.use_cassette(str(tmp_path / "none.json")) as tape, pytest.raises(ModelNotConfigured):
        LiteLLMModel("nosuchprovider/x").structured([Message("user", "hi")], _Anything)
    assert len(tape) == 0 and tape.play_count == 0
