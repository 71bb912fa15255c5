"""`framework bench latency`: the fake model server answers every call the framework makes with
valid content (structured outputs generated from the request's JSON schema), and the command
prints the per-kind figures against a bare streaming litellm loop."""

from __future__ import annotations

import json
from typing import Literal

from click.testing import CliRunner
from pydantic import BaseModel, Field

from framework.bench.latency import instance
from framework.cli import main
from framework.memory.governance import Extraction
from framework.memory.governance.candidates import Comparison
from framework.steps.evaluate import OutcomeJudgment
from framework.steps.intent import Intent


class Inner(BaseModel):
    level: Literal["low", "high"]
    score: float = Field(ge=0.2, le=0.4)
    tags: list[str] = Field(min_length=2)


class Outer(BaseModel):
    name: str = Field(min_length=3)
    inner: Inner
    maybe: Inner | None = None
    count: int = Field(ge=5, le=9)


def test_generated_instances_validate_against_the_schemas_the_runtime_sends() -> None:
    for model in (Intent, Extraction, Comparison, OutcomeJudgment, Outer):
        model.model_validate(instance(model.model_json_schema()))  # raises when invalid
    outer = Outer.model_validate(instance(Outer.model_json_schema()))
    assert outer.inner.level == "low" and 0.2 <= outer.inner.score <= 0.4 and len(outer.inner.tags) == 2


def test_the_command_prints_every_kind_against_the_bare_loop() -> None:
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "latency",
            "--latency-ms",
            "20",
            "--token-ms",
            "1",
            "--pause-ms",
            "0",
            "--rounds",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert set(figures["kinds"]) == {"statement", "question", "acknowledgement", "tool"}
    for kind, k in figures["kinds"].items():
        assert k["requests_before_answer"] == 0, kind  # the answer request is always the first
        assert k["first_token_ms"] >= 20 and k["bare_first_token_ms"] >= 20 and k["first_token_ratio"] > 0
    kinds = figures["kinds"]
    assert kinds["acknowledgement"]["llm_requests"] == 1  # "thanks": no memory call at all
    assert kinds["statement"]["llm_requests"] == 3  # answer, then intent and extraction after it
    assert kinds["tool"]["bare_llm_requests"] == 2  # the call, then the answer
    assert figures["first_token_ratio_max"] == max(k["first_token_ratio"] for k in kinds.values())
    assert figures["memory_applied_after_answer_ms_p95"] > 0
