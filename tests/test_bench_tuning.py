"""Leave-one-conversation-out cross-validation of the rank weights (framework.bench.tuning): each
fold's weights are chosen on the other conversations only, the held-out answers are pooled, and the
command prints the figure with each fold's choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from framework.bench.retrieval import Answer
from framework.bench.tuning import GRID, _Tuner, cross_validate, majority_weights
from framework.errors import ConfigurationError
from framework.ranking import RankWeights
from tests.test_bench_retrieval import locomo_file


def test_every_tuned_name_is_a_rank_weight_and_its_default_is_in_its_range() -> None:
    known = {f.name: f.default for f in fields(RankWeights)}
    for name, values in GRID.items():
        assert name in known and known[name] in values, name
        assert list(values) == sorted(set(values)), name


class Rigged:
    """Answers that depend on the context weight: conversation "a" is answered at rank 1 only
    with no context, "b" only with the most. Counts what was asked."""

    def __init__(self) -> None:
        self.asked: list[RankWeights] = []

    def ask(self, weights: RankWeights | None = None) -> list[Answer]:
        assert weights is not None
        self.asked.append(weights)
        answers = []
        for conversation, wanted in (("a", 0.0), ("b", 1.0)):
            ranked = ["hit"] if weights.context == wanted else ["miss"]
            answers += [Answer(conversation, "single-hop", ("hit",), ranked) for _ in range(3)]
        return answers


def test_weights_are_chosen_on_the_training_conversations_only() -> None:
    rigged = Rigged()
    tuner = _Tuner(rigged)  # type: ignore[arg-type]
    assert tuner.fit({"a"})["context"] == 0.0
    assert tuner.fit({"b"})["context"] == 1.0
    # each assignment is asked once, whichever folds need it
    keys = [tuple(sorted((f.name, getattr(w, f.name)) for f in fields(RankWeights))) for w in rigged.asked]
    assert len(keys) == len(set(keys)) == len(tuner.asked)


def test_cross_validation_pools_the_held_out_answers(tmp_path: Path) -> None:
    result = cross_validate(locomo_file(tmp_path), embedder="hash")
    assert result["conversations"] == ["conv-a", "conv-b"]
    assert [fold["held_out"] for fold in result["folds"]] == ["conv-a", "conv-b"]
    assert [fold["questions"] for fold in result["folds"]] == [4, 1]
    assert result["cross_validated"]["questions"] == 5 == result["defaults_in_sample"]["questions"]
    for fold in result["folds"]:
        assert set(fold["weights"]) == set(GRID)
        assert all(fold["weights"][name] in GRID[name] for name in GRID)
        assert 0.0 <= fold["training_objective"] <= 1.0
    pooled = result["cross_validated"]["overall"]["any@10"]
    per_fold = [fold["held_out_figures"]["any@10"] * fold["questions"] for fold in result["folds"]]
    assert pooled == pytest.approx(sum(per_fold) / 5, abs=1e-3)
    assert set(result["majority_weights"]) == set(GRID) and result["assignments_asked"] >= 1


def test_a_default_follows_a_majority_of_folds_never_a_tie() -> None:
    folds = [dict.fromkeys(GRID, 0.0) for _ in range(4)]
    for fold, value in zip(folds, (0.1, 0.1, 0.2, 0.3), strict=True):
        fold["context"] = value  # two folds agree, the others differ: a majority
    for fold, value in zip(folds, (0.5, 0.5, 0.25, 0.25), strict=True):
        fold["subject"] = value  # two against two: none, whichever fold came first
    for fold, value in zip(folds, (0.1, 0.2, 0.3, 0.4), strict=True):
        fold["focus"] = value  # each fold its own: none
    majority = majority_weights(folds)
    assert majority["context"] == 0.1 and majority["subject"] is None and majority["focus"] is None
    assert majority["time"] == 0.0  # all four agree
    assert majority_weights(folds[:1])["focus"] == 0.1  # one fold is its own majority


def test_one_conversation_cannot_be_cross_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 2 conversations"):
        cross_validate(locomo_file(tmp_path), {"conv-a"}, embedder="hash")


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framework", "bench", "retrieval", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FRAMEWORK_HOME": str(home)},
        timeout=300,
    )


def test_the_command_prints_the_cross_validated_figure(tmp_path: Path) -> None:
    path = str(locomo_file(tmp_path))
    table = run("--locomo", path, "--embedder", "hash", "--cv", home=tmp_path / "home")
    assert table.returncode == 0, table.stderr
    assert "cross-validated (each conversation scored with weights tuned on the others)" in table.stdout
    assert "conv-a" in table.stdout and "tuned on the others: lexical_share=" in table.stdout
    assert "in-sample, not a measure of generalisation" in table.stdout
    as_json = run("--locomo", path, "--embedder", "hash", "--cv", "--json", home=tmp_path / "home")
    assert json.loads(as_json.stdout)["cross_validated"]["questions"] == 5
    refused = run("--locomo", path, "--cv", "--database-url", "postgresql://x/y", home=tmp_path / "home")
    assert refused.returncode == 2 and "leave out --database-url" in refused.stderr
    home = tmp_path / "home"
    one = run("--locomo", path, "--embedder", "hash", "--cv", "--conversations", "conv-a", home=home)
    assert one.returncode == 1 and "at least 2 conversations (got 1)" in one.stderr


def test_a_questions_answer_does_not_depend_on_the_other_conversations(tmp_path: Path) -> None:
    """Each conversation is asked of a store of its own: another conversation full of one of the
    question's words (which, in a shared store, would make that word common for BM25 and flip the
    ranking) changes none of its answers, before or after it in the file."""
    from framework.bench.retrieval import Remembered, load_conversations
    from framework.embeddings import HashEmbedder

    def conversation(sample_id: str, texts: list[str], questions: list[Any]) -> dict[str, object]:
        turns = [{"speaker": "Ann", "dia_id": f"D1:{i + 1}", "text": t} for i, t in enumerate(texts)]
        talk = {"speaker_a": "Ann", "speaker_b": "Ben", "session_1_date_time": "1:56 pm on 8 May, 2023"}
        return {"sample_id": sample_id, "conversation": {**talk, "session_1": turns}, "qa": questions}

    ask = {"question": "Did the walrus sing opera?", "answer": "x", "evidence": ["D1:1"], "category": 4}
    mine = conversation("mine", ["the walrus", "opera", *[f"opera night {i}" for i in range(3)]], [ask])
    other = conversation("other", [f"walrus {i}" for i in range(40)], [])
    path = tmp_path / "file.json"
    path.write_text(json.dumps([mine, other]))
    answers = {}
    for name, only in (("alone", {"mine"}), ("both", None)):
        data = load_conversations(path, only)
        for order, conversations in (("", data), ("reversed", data[::-1])):
            folder = tmp_path / f"{name}{order}"
            folder.mkdir()
            remembered = Remembered(conversations, HashEmbedder(), folder)
            try:
                lexical = replace(RankWeights(), lexical_share=1.0)  # BM25 alone decides
                asked = remembered.ask(lexical)
                answers[name + order] = [a.ranked for a in asked if a.conversation == "mine"]
            finally:
                remembered.close()
    assert answers["alone"][0][0] == "D1:1"  # "walrus" is the rarer word in this conversation
    assert answers["alone"] == answers["both"] == answers["bothreversed"]
