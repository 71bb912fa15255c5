"""Turn-level retrieval on LoCoMo (Maharana et al., ACL 2024): how often the store's own recall
finds the turns that answer a question.

Each conversation becomes one user whose memories are its turns ("speaker: text", plus the
caption of a shared photo), stored through `LongTermMemory` in a temporary SQLite database (or,
with `database_url`, in that empty PostgreSQL database, its tables dropped afterwards) as a
conversation importer would write them: `created_at` is when the turn was said (the session's
date; the content stays what was said) and `session_id` its session. Each question of categories
1-4 is asked as a recall query (limit 10, every memory type, the default `RankWeights`) and scored
any@k (an evidence turn is in the top k) and all@k (all of them are). Recalls are not recorded as
accesses, so one question cannot change the ranking of the next. No LLM is called. The data is
CC BY-NC: it is read from the path given, never copied into the project.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from framework.embeddings import Embedder, resolve_embedder
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import SearchQuery
from framework.memory.longterm.store import LongTermMemory

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
LIMIT = 10
_SESSION = re.compile(r"session_(\d+)$")
# "D8:6", and the defects seen in the labels: "D:11:26" (stray colon), "D30:05" (leading zero).
_DIA_ID = re.compile(r"D:*0*(\d+):+0*(\d+)")


@dataclass
class Turn:
    dia_id: str
    session: int
    content: str
    said_at: datetime | None


@dataclass
class Question:
    text: str
    category: str
    evidence: tuple[str, ...]


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]
    skipped: int = 0  # questions of categories 1-4 left with no usable evidence
    evidence_dropped: int = 0  # evidence ids of those categories that point to no turn


@dataclass
class Tally:
    """Hits at each k for one group of questions."""

    questions: int = 0
    any_hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))
    all_hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))

    def add(self, ranked: list[str], evidence: tuple[str, ...]) -> None:
        self.questions += 1
        wanted = set(evidence)
        for k in KS:
            found = wanted & set(ranked[:k])
            self.any_hits[k] += bool(found)
            self.all_hits[k] += found == wanted

    def report(self) -> dict[str, float]:
        n = self.questions or 1
        figures = {f"any@{k}": round(self.any_hits[k] / n, 3) for k in KS}
        figures.update({f"all@{k}": round(self.all_hits[k] / n, 3) for k in KS})
        return figures


def turn_content(turn: dict[str, Any]) -> str:
    text = f"{turn.get('speaker', '')}: {turn.get('text', '')}"
    caption = turn.get("blip_caption")
    return f"{text} [shares a photo: {caption}]" if caption else text


def parse_date(text: str) -> datetime | None:
    """A session date such as "1:56 pm on 8 May, 2023", as UTC; None if it does not parse."""
    for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def repair_evidence(raw: list[Any], known: set[str]) -> tuple[tuple[str, ...], int]:
    """Evidence ids made well-formed (split on ';', stray colons and leading zeros removed) and
    the number dropped because they name no turn of the conversation."""
    kept: list[str] = []
    dropped = 0
    for entry in raw:
        for piece in str(entry).split(";"):
            match = _DIA_ID.fullmatch(re.sub(r"\s+", "", piece))
            dia_id = f"D{int(match[1])}:{int(match[2])}" if match else None
            if dia_id is None or dia_id not in known:
                dropped += 1
            elif dia_id not in kept:
                kept.append(dia_id)
    return tuple(kept), dropped


def load_conversations(path: Path, only: set[str] | None = None) -> list[Conversation]:
    samples = json.loads(path.read_text(encoding="utf-8"))
    conversations = []
    for sample in samples:
        if only is not None and sample["sample_id"] not in only:
            continue
        talk = sample["conversation"]
        turns: list[Turn] = []
        sessions = sorted(
            (int(m[1]), key) for key in talk if (m := _SESSION.match(key)) and isinstance(talk[key], list)
        )
        for number, key in sessions:
            date = parse_date(str(talk.get(f"{key}_date_time", "")))
            for i, turn in enumerate(talk[key]):
                # One second apart: the order of a session's turns survives in created_at.
                said_at = date + timedelta(seconds=i) if date else None
                turns.append(Turn(str(turn["dia_id"]), number, turn_content(turn), said_at))
        conversation = Conversation(str(sample["sample_id"]), turns, [])
        known = {t.dia_id for t in turns}
        for qa in sample.get("qa", []):
            category = CATEGORIES.get(qa.get("category"))
            if category is None:  # category 5 (adversarial, unanswerable) is not about recall
                continue
            evidence, dropped = repair_evidence(qa.get("evidence") or [], known)
            conversation.evidence_dropped += dropped
            if not evidence:
                conversation.skipped += 1
                continue
            conversation.questions.append(Question(str(qa["question"]), category, evidence))
        conversations.append(conversation)
    if only is not None and (missing := only - {c.sample_id for c in conversations}):
        raise ValueError(f"{path}: no conversation with sample_id {sorted(missing)}")
    return conversations


def measure(
    path: Path,
    conversations: set[str] | None = None,
    embedder: str | Embedder = "local",
    database_url: str | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    data = load_conversations(path, conversations)
    model = resolve_embedder(embedder)
    overall = Tally()
    by_category = {name: Tally() for name in CATEGORIES.values()}
    recall_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="framework-locomo-") as tmp:
        if database_url:
            from framework.bench.scale import drop_store, empty_store

            engine = empty_store(database_url)
        else:
            engine = open_engine(f"sqlite:///{Path(tmp) / 'memory.db'}")
        try:
            _ask(engine, model, data, overall, by_category, recall_ms)
        finally:
            if database_url:
                drop_store(engine)
            engine.dispose()
    return {
        "overall": overall.report(),
        "by_category": {name: t.report() for name, t in by_category.items()},
        "questions": overall.questions,
        "by_category_questions": {name: t.questions for name, t in by_category.items()},
        "skipped": sum(c.skipped for c in data),
        "evidence_dropped": sum(c.evidence_dropped for c in data),
        "conversations": [c.sample_id for c in data],
        "memories": sum(len(c.turns) for c in data),
        "embedder": model.name,
        "recall_p50_ms": round(statistics.median(recall_ms), 3) if recall_ms else 0.0,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _ask(
    engine: Engine,
    model: Embedder,
    data: list[Conversation],
    overall: Tally,
    by_category: dict[str, Tally],
    recall_ms: list[float],
) -> None:
    """Store each conversation's turns as its user's memories and ask its questions."""
    migrate(engine, model.name, model.dim)
    store = LongTermMemory(engine)
    for conv in data:
        user = conv.sample_id
        vectors = model.embed([t.content for t in conv.turns])
        entries = [_memory(user, t, model.name) for t in conv.turns]
        stored = store.add_many(entries, vectors, actor="bench", reason="locomo turn")
        dia_of = {e.id: t.dia_id for e, t in zip(stored, conv.turns, strict=True)}
        queries = model.embed([q.text for q in conv.questions]) if conv.questions else []
        for question, vector in zip(conv.questions, queries, strict=True):
            asked = time.perf_counter()
            result = store.search(SearchQuery(user, question.text, limit=LIMIT), vector)
            recall_ms.append((time.perf_counter() - asked) * 1000)
            ranked = [dia_of[r.memory.id] for r in result.items]
            overall.add(ranked, question.evidence)
            by_category[question.category].add(ranked, question.evidence)


def _memory(user: str, turn: Turn, embedder: str) -> MemoryEntry:
    """A turn as the memory a conversation importer would write: written when it was said."""
    entry = MemoryEntry(
        user_id=user,
        content=turn.content,
        memory_type="fact",
        source="explicit",
        session_id=f"session_{turn.session}",
        embedder=embedder,
    )
    if turn.said_at is not None:
        entry.created_at = turn.said_at
    return entry
