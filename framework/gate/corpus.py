"""The public gate corpus (corpus.yaml, shipped beside this module): destructive spellings with
the kind each must be classified as, and benign look-alikes that must not be blocked.

Why a data file: the same items drive the tests and `framework bench gate`, and anyone can add a
spelling without touching code. `run_corpus` classifies every item and tallies the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from framework.gate.commands import KINDS, CommandReport, classify_shell, classify_sql

CORPUS_FILE = Path(__file__).with_name("corpus.yaml")


@dataclass(frozen=True)
class CorpusItem:
    text: str
    language: Literal["shell", "sql"]
    kind: str | None = None  # the expected kind; None for a benign item

    def classify(self) -> CommandReport:
        return classify_shell(self.text) if self.language == "shell" else classify_sql(self.text)


@dataclass(frozen=True)
class Corpus:
    destructive: tuple[CorpusItem, ...]
    benign: tuple[CorpusItem, ...]


def _item(raw: object, where: str, destructive: bool) -> CorpusItem:
    if not isinstance(raw, dict) or len({"command", "sql"} & raw.keys()) != 1:
        raise ValueError(f"{where}: an item has exactly one of `command` or `sql`: {raw!r}")
    language: Literal["shell", "sql"] = "shell" if "command" in raw else "sql"
    text = raw["command" if language == "shell" else "sql"]
    kind = raw.get("kind")
    if not isinstance(text, str) or (destructive and kind not in KINDS) or (not destructive and kind):
        raise ValueError(f"{where}: bad item (text must be a string, kind one of KINDS): {raw!r}")
    return CorpusItem(text, language, kind)


@cache
def load_corpus(path: Path = CORPUS_FILE) -> Corpus:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = {
        part: tuple(
            _item(raw, f"{path.name} {part}[{k}]", part == "destructive") for k, raw in enumerate(data[part])
        )
        for part in ("destructive", "benign")
    }
    return Corpus(items["destructive"], items["benign"])


@dataclass
class Outcome:
    item: CorpusItem
    report: CommandReport | None  # None when classification raised
    error: str | None = None

    @property
    def flagged(self) -> bool:
        return self.report is not None and self.report.flagged

    @property
    def exact(self) -> bool:
        """A destructive item classified as the kind it names."""
        return self.report is not None and self.item.kind in self.report.kinds


@dataclass
class CorpusResult:
    destructive: list[Outcome] = field(default_factory=list)
    benign: list[Outcome] = field(default_factory=list)

    def per_kind(self) -> dict[str, tuple[int, int, int]]:
        """kind -> (classified as that kind, flagged at all, total)."""
        out: dict[str, tuple[int, int, int]] = {}
        for o in self.destructive:
            exact, flagged, total = out.get(o.item.kind or "", (0, 0, 0))
            out[o.item.kind or ""] = (exact + o.exact, flagged + o.flagged, total + 1)
        return out


def _outcome(item: CorpusItem) -> Outcome:
    try:
        report = item.classify()
    except Exception as e:  # the corpus run reports errors rather than stopping
        return Outcome(item, None, f"{type(e).__name__}: {e}")
    crashed = report.unparseable if (report.unparseable or "").startswith("classifier error") else None
    return Outcome(item, report, crashed)  # a caught classifier bug counts as an error too


def run_corpus(corpus: Corpus | None = None) -> CorpusResult:
    corpus = corpus or load_corpus()
    return CorpusResult([_outcome(i) for i in corpus.destructive], [_outcome(i) for i in corpus.benign])
