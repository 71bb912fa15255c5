"""Rank weights tuned honestly: leave-one-conversation-out cross-validation on a LoCoMo-format file.

Each conversation is held out in turn. The weights are chosen on the other conversations only, by
coordinate ascent over GRID (each weight in turn set to the value of its range that scores best
with the others fixed, from the middle of every range, until a round changes nothing), and the
held-out conversation is then asked with them. The cross-validated figure pools the held-out
answers: it is what tuning on conversations like these gives on one it has not seen. Beside it the
report gives each fold's choice, the weights most folds chose (none where folds tie), and the
shipped defaults' figure on
the same file (in-sample when the defaults were chosen on it: not a measure of generalisation).

The objective is the mean of any@5 and any@10 over the training questions. The conversations are
stored once and every question embedded once (framework.bench.retrieval.Remembered); an
assignment of weights is asked of all conversations once and its answers reused by every fold.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from framework.bench.retrieval import Answer, Remembered, load_conversations, report, rewrite_report
from framework.embeddings import Embedder, resolve_embedder
from framework.errors import ConfigurationError
from framework.memory.rewrite import QueryRewriter
from framework.ranking import RankWeights

# The values each tuned weight may take (framework.ranking.RankWeights documents each). The
# composite rank's other weights (confidence, recency, frequency, task) do not vary on a
# benchmark whose memories are all equally sure, old and unread.
GRID: dict[str, tuple[float, ...]] = {
    "lexical_share": (0.3, 0.4, 0.5, 0.6, 0.7),
    "context": (0.0, 0.25, 0.5, 0.75, 1.0),
    "subject": (0.0, 0.125, 0.25, 0.5, 0.75),
    "time": (0.0, 0.25, 0.5, 1.0),
    "min_similarity": (0.15, 0.2, 0.25, 0.3, 0.35),
    "focus": (0.0, 0.25, 0.5, 0.75),
    "common_share": (0.05, 0.1, 0.2, 0.3),
    "substance": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
}
ROUNDS = 3

Assignment = tuple[tuple[str, float], ...]


def majority_weights(chosen: list[dict[str, float]]) -> dict[str, float | None]:
    """Each tuned weight's value chosen by more folds than any other value; None where no value
    was (a tie), so that which fold came first never decides a default."""
    majority: dict[str, float | None] = {}
    for name in GRID:
        counts = Counter(weights[name] for weights in chosen).most_common(2)
        majority[name] = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else None
    return majority


def _objective(answers: list[Answer]) -> float:
    figures = report(answers)["overall"]
    return (figures["any@5"] + figures["any@10"]) / 2 if answers else 0.0


class _Tuner:
    """Answers per assignment of the tuned weights, each asked once of every conversation."""

    def __init__(self, remembered: Remembered) -> None:
        self.remembered = remembered
        self.asked: dict[Assignment, list[Answer]] = {}

    def answers(self, chosen: dict[str, float]) -> list[Answer]:
        key = tuple(sorted(chosen.items()))
        if key not in self.asked:
            self.asked[key] = self.remembered.ask(replace(RankWeights(), **chosen))
        return self.asked[key]

    def fit(self, conversations: set[str]) -> dict[str, float]:
        """Coordinate ascent on these conversations' questions only."""

        def score(chosen: dict[str, float]) -> float:
            return _objective([a for a in self.answers(chosen) if a.conversation in conversations])

        chosen = {name: values[len(values) // 2] for name, values in GRID.items()}
        best = score(chosen)
        for _ in range(ROUNDS):
            changed = False
            for name, values in GRID.items():
                for value in values:
                    if value == chosen[name]:
                        continue
                    trial = {**chosen, name: value}
                    if (trial_score := score(trial)) > best:
                        chosen, best, changed = trial, trial_score, True
            if not changed:
                break
        return chosen


def cross_validate(
    path: Path,
    conversations: set[str] | None = None,
    embedder: str | Embedder = "local",
    rewriter: QueryRewriter | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    data = load_conversations(path, conversations)
    if len(data) < 2:
        raise ConfigurationError(
            f"{path}: cross-validation holds out one conversation at a time and tunes on the others: "
            f"give at least 2 conversations (got {len(data)})"
        )
    model = resolve_embedder(embedder)
    with tempfile.TemporaryDirectory(prefix="framework-locomo-cv-") as tmp:
        remembered = Remembered(data, model, Path(tmp), rewriter=rewriter)
        try:
            tuner = _Tuner(remembered)
            held_out: list[Answer] = []
            folds = []
            for conv in data:
                training = {c.sample_id for c in data} - {conv.sample_id}
                chosen = tuner.fit(training)
                answers = [a for a in tuner.answers(chosen) if a.conversation == conv.sample_id]
                held_out.extend(answers)
                figures = report(answers)
                folds.append(
                    {
                        "held_out": conv.sample_id,
                        "questions": figures["questions"],
                        "weights": chosen,
                        "held_out_figures": figures["overall"],
                        "training_objective": round(
                            _objective([a for a in tuner.answers(chosen) if a.conversation in training]), 4
                        ),
                    }
                )
            defaults = RankWeights()
            shipped = remembered.ask(defaults)
        finally:
            remembered.close()
    majority = majority_weights([fold["weights"] for fold in folds])
    return {
        "cross_validated": report(held_out),
        "folds": folds,
        "majority_weights": majority,
        "defaults": {name: getattr(defaults, name) for name in GRID},
        "defaults_differ_from_majority": {
            name: (getattr(defaults, name), value)
            for name, value in majority.items()
            if value is not None and getattr(defaults, name) != value
        },
        "defaults_in_sample": report(shipped),
        **rewrite_report(remembered.rewrites),
        "conversations": [c.sample_id for c in data],
        "grid": {name: list(values) for name, values in GRID.items()},
        "assignments_asked": len(tuner.asked),
        "embedder": model.name,
        "seconds": round(time.perf_counter() - started, 2),
    }
