"""How `framework bench qa` scores an answer and sums a run: token F1 and BLEU-1 against the gold
answer, the LLM judge's verdict read from its reply, J / F1 / BLEU-1 by category, calls and tokens
per question, latency percentiles, and cost from litellm's price map.

F1 is SQuAD-style (lower case, punctuation and articles removed, tokens counted as a multiset);
BLEU-1 is the clipped unigram precision times the brevity penalty, on the same tokens. Both are
lexical: they reward the gold answer's words, which is why the judge's J is the headline.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans(dict.fromkeys(string.punctuation, " "))
_LABEL = re.compile(r"\b(CORRECT|INCORRECT|WRONG)\b", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower case, punctuation and articles removed, split on white space."""
    return _ARTICLES.sub(" ", str(text).lower().translate(_PUNCTUATION)).split()


def f1(answer: str, gold: str) -> float:
    said, wanted = tokens(answer), tokens(gold)
    if not said or not wanted:
        return float(said == wanted)
    common = sum((Counter(said) & Counter(wanted)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(said), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def bleu1(answer: str, gold: str) -> float:
    said, wanted = tokens(answer), tokens(gold)
    if not said or not wanted:
        return float(said == wanted)
    clipped = sum((Counter(said) & Counter(wanted)).values())
    brevity = 1.0 if len(said) > len(wanted) else math.exp(1 - len(wanted) / len(said))
    return brevity * clipped / len(said)


def parse_verdict(reply: str | None) -> bool | None:
    """The judge's label: a JSON object's `label`, else the last CORRECT / WRONG (INCORRECT is
    wrong) in the text; None when the reply says neither."""
    text = (reply or "").strip()
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            data = None
        label = str(data.get("label", "")).strip().upper() if isinstance(data, dict) else ""
        if label in ("CORRECT", "WRONG", "INCORRECT"):
            return label == "CORRECT"
    found = _LABEL.findall(text)
    return found[-1].upper() == "CORRECT" if found else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for these tokens by litellm's price map; None when the map does not know the model
    (a cost that is not known is not zero)."""
    if not model or model.startswith(("scripted", "function")):
        return None
    from framework.llm.litellm_model import import_litellm

    litellm = import_litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises for a model missing from its map
        return None
    return float(prompt_cost) + float(completion_cost)


@dataclass
class Group:
    """Sums over one category's questions (or all of them)."""

    questions: int = 0
    correct: int = 0
    unjudged: int = 0  # the judge's reply named no label, or the judge failed: counted wrong
    f1: float = 0.0
    bleu1: float = 0.0

    def add(self, record: dict[str, Any]) -> None:
        self.questions += 1
        self.correct += record.get("correct") is True
        self.unjudged += record.get("correct") is None
        self.f1 += float(record.get("f1", 0.0))
        self.bleu1 += float(record.get("bleu1", 0.0))

    def report(self) -> dict[str, Any]:
        n = self.questions or 1
        return {
            "questions": self.questions,
            "J": round(self.correct / n, 4),
            "F1": round(self.f1 / n, 4),
            "BLEU-1": round(self.bleu1 / n, 4),
            "unjudged": self.unjudged,
        }


@dataclass
class Spend:
    """Calls and tokens of one part of the run, by model (for the price)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_model: dict[str, list[int]] = field(default_factory=dict)

    def add(self, model: str, calls: int, prompt_tokens: int, completion_tokens: int) -> None:
        self.calls += calls
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        sums = self.by_model.setdefault(model, [0, 0, 0])
        sums[0] += calls
        sums[1] += prompt_tokens
        sums[2] += completion_tokens

    def cost(self) -> float | None:
        total = 0.0
        for model, (calls, prompt, completion) in self.by_model.items():
            if calls == 0:
                continue
            usd = price(model, prompt, completion)
            if usd is None:
                return None
            total += usd
        return total


def summarize(
    records: list[dict[str, Any]], categories: Iterable[str], ingest: list[dict[str, Any]]
) -> dict[str, Any]:
    """A run's figures from its result lines (and the ingest record of its conversations)."""
    overall = Group()
    groups = {name: Group() for name in categories}
    answers, memory_work, judge, ingested = Spend(), Spend(), Spend(), Spend()
    latencies = []
    for r in records:
        overall.add(r)
        groups.setdefault(r["category"], Group()).add(r)
        latencies.append(float(r["latency_ms"]))
        answers.add(r["model"], r["answer_calls"], r["answer_prompt_tokens"], r["answer_completion_tokens"])
        memory_work.add(
            r["model"],
            r["calls"] - r["answer_calls"],
            r["prompt_tokens"] - r["answer_prompt_tokens"],
            r["completion_tokens"] - r["answer_completion_tokens"],
        )
        judge.add(r["judge_model"], r["judge_calls"], r["judge_prompt_tokens"], r["judge_completion_tokens"])
    for c in ingest:
        ingested.add(c["model"], c["calls"], c["prompt_tokens"], c["completion_tokens"])
    n = len(records) or 1

    def per_question(spend: Spend) -> dict[str, float]:
        return {
            "calls": round(spend.calls / n, 2),
            "tokens": round((spend.prompt_tokens + spend.completion_tokens) / n, 1),
        }

    costs = {
        "ingest": ingested.cost(),
        "answers": answers.cost(),
        "memory_work": memory_work.cost(),
        "judge": judge.cost(),
    }
    known = [v for v in costs.values() if v is not None]
    return {
        "questions": len(records),
        "overall": overall.report(),
        "by_category": {name: g.report() for name, g in groups.items() if g.questions},
        "per_question": {
            "answer": per_question(answers),
            "memory_work": per_question(memory_work),
            "judge": per_question(judge),
        },
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "ingest": {
            "conversations": len(ingest),
            "calls": ingested.calls,
            "tokens": ingested.prompt_tokens + ingested.completion_tokens,
            "written": sum(c.get("written", 0) for c in ingest),
            "rejected": sum(c.get("rejected", 0) for c in ingest),
            "failed_chunks": sum(c.get("failed_chunks", 0) for c in ingest),
        },
        "cost_usd": {
            **costs,
            "total": sum(known) if len(known) == len(costs) else None,
        },
    }
