"""Turn-level retrieval on LoCoMo (Maharana et al., ACL 2024): how often the store's own recall
finds the turns that answer a question.

Each conversation becomes one user whose memories are its turns ("speaker: text", plus the
caption of a shared photo), stored through `LongTermMemory` in a temporary SQLite database of its own (or,
with `database_url`, in that empty PostgreSQL database, its tables dropped afterwards) as a
conversation importer would write them: `created_at` is when the turn was said (the session's
date; the content stays what was said) and `session_id` its session. Each question of categories
1-4 is asked as a recall query (limit 10, every memory type, the default `RankWeights`, the query
vector focused as the product's recall does: framework.memory.longterm.focus) and scored
any@k (an evidence turn is in the top k) and all@k (all of them are). Recalls are not recorded as
accesses, so one question cannot change the ranking of the next. No LLM is called, unless the
questions are widened by an LLM query rewrite first (`rewriter`: framework.memory.rewrite, asked
once per question). The data is CC BY-NC: it is read from the path given, never copied into the
project.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from framework.embeddings import Embedder, resolve_embedder
from framework.errors import ModelError
from framework.memory.longterm.migrations import migrate, open_engine
from framework.memory.longterm.records import MemoryEntry
from framework.memory.longterm.search import SearchQuery
from framework.memory.longterm.store import LongTermMemory
from framework.memory.rewrite import QueryRewriter, Rewrite, widened
from framework.ranking import RankWeights

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


@dataclass
class Answer:
    """One question's recall: the turns returned, best first."""

    conversation: str
    category: str
    evidence: tuple[str, ...]
    ranked: list[str]


def report(answers: list[Answer]) -> dict[str, Any]:
    """any@k and all@k, overall and by category, of these answers."""
    overall = Tally()
    by_category = {name: Tally() for name in CATEGORIES.values()}
    for answer in answers:
        overall.add(answer.ranked, answer.evidence)
        by_category[answer.category].add(answer.ranked, answer.evidence)
    return {
        "overall": overall.report(),
        "by_category": {name: t.report() for name, t in by_category.items()},
        "questions": overall.questions,
        "by_category_questions": {name: t.questions for name, t in by_category.items()},
    }


class Remembered:
    """The conversations stored, each as its own user in a store of its own (a temporary SQLite
    file in `folder`; or all in the PostgreSQL database at `database_url`, whose BM25 counts
    each user's memories only), ready to be asked with any rank weights. A question's score does
    not depend on which other conversations the file holds, nor on their order. Question
    embeddings are kept: asking again with other weights embeds nothing."""

    def __init__(
        self,
        data: list[Conversation],
        model: Embedder,
        folder: Path,
        database_url: str | None = None,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        self.data = data
        self.model = model
        self.rewriter = rewriter  # each question's LLM search hints first (framework.memory.rewrite)
        self.rewrites: dict[str, Rewrite] = {}  # question -> its hints, asked once
        self._embedded: dict[str, list[float]] = {}
        self._engines: list[Engine] = []
        self._stores: dict[str, tuple[LongTermMemory, dict[int, str]]] = {}
        self._database_url = database_url
        shared = None
        if database_url:
            from framework.bench.scale import empty_store

            shared = empty_store(database_url)
            migrate(shared, model.name, model.dim)
            self._engines.append(shared)
        try:
            for conv in data:
                engine = shared
                if engine is None:
                    engine = open_engine(f"sqlite:///{folder / (_file_name(conv.sample_id) + '.db')}")
                    self._engines.append(engine)
                    migrate(engine, model.name, model.dim)
                store = LongTermMemory(engine)
                vectors = model.embed([t.content for t in conv.turns])
                entries = [_memory(conv.sample_id, t, model.name) for t in conv.turns]
                stored = store.add_many(entries, vectors, actor="bench", reason="locomo turn")
                self._stores[conv.sample_id] = (
                    store,
                    {e.id: t.dia_id for e, t in zip(stored, conv.turns, strict=True) if e.id is not None},
                )
        except BaseException:
            self.close()
            raise

    def ask(self, weights: RankWeights | None = None, recall_ms: list[float] | None = None) -> list[Answer]:
        """Every question asked as a recall query (limit 10, every memory type) with these weights
        (default: `RankWeights()`); with `recall_ms`, each recall's time (query vector and search)
        appended to it."""
        weights = weights or RankWeights()
        texts: dict[tuple[str, str], list[str]] = {}
        for conv in self.data:  # every query text embedded in one batch
            store = self._stores[conv.sample_id][0]
            store.retrieval.weights = weights
            for q in conv.questions:
                texts[conv.sample_id, q.text] = store.query_texts(conv.sample_id, q.text)
                if self.rewriter is not None and q.text not in self.rewrites:
                    self.rewrites[q.text] = self.rewriter.rewrite(q.text)
                    _model_answers(self.rewrites)
        guesses = [r.guess for r in self.rewrites.values() if r.guess]
        self._embed([t for asked in texts.values() for t in asked] + guesses)
        answers = []
        for conv in self.data:
            store, dia_of = self._stores[conv.sample_id]
            for question in conv.questions:
                asked = time.perf_counter()
                vector = store.vector_of(texts[conv.sample_id, question.text], self._embed)
                hints = self.rewrites.get(question.text, Rewrite())
                if vector is not None and hints.guess:
                    vector = widened(vector, self._embed([hints.guess])[0])
                result = store.search(
                    SearchQuery(conv.sample_id, question.text, limit=LIMIT, expansion=hints.keywords), vector
                )
                if recall_ms is not None:
                    recall_ms.append((time.perf_counter() - asked) * 1000)
                ranked = [dia_of[r.memory.id] for r in result.items if r.memory.id in dia_of]
                answers.append(Answer(conv.sample_id, question.category, question.evidence, ranked))
        return answers

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """The model's embeddings, each text embedded once."""
        new = [t for t in dict.fromkeys(texts) if t not in self._embedded]
        if new:
            self._embedded.update(zip(new, self.model.embed(new), strict=True))
        return [self._embedded[t] for t in texts]

    def close(self) -> None:
        if self._database_url and self._engines:
            from framework.bench.scale import drop_store

            drop_store(self._engines[0])
        for engine in self._engines:
            engine.dispose()
        self._engines = []


def _file_name(sample_id: str) -> str:
    """A file name for a sample id (which the dataset chooses)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", sample_id)[:80] + f"-{zlib.crc32(sample_id.encode()):08x}"


def measure(
    path: Path,
    conversations: set[str] | None = None,
    embedder: str | Embedder = "local",
    database_url: str | None = None,
    rewriter: QueryRewriter | None = None,
) -> dict[str, Any]:
    """Each question of the file asked of its conversation's memories with the default weights
    (with `rewriter`, widened by its LLM hints first)."""
    started = time.perf_counter()
    data = load_conversations(path, conversations)
    model = resolve_embedder(embedder)
    recall_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="framework-locomo-") as tmp:
        remembered = Remembered(data, model, Path(tmp), database_url, rewriter)
        try:
            answers = remembered.ask(recall_ms=recall_ms)
        finally:
            remembered.close()
    return {
        **report(answers),
        **rewrite_report(remembered.rewrites),
        "skipped": sum(c.skipped for c in data),
        "evidence_dropped": sum(c.evidence_dropped for c in data),
        "conversations": [c.sample_id for c in data],
        "memories": sum(len(c.turns) for c in data),
        "embedder": model.name,
        "recall_p50_ms": round(statistics.median(recall_ms), 3) if recall_ms else 0.0,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _model_answers(rewrites: dict[str, Rewrite], first: int = 5) -> None:
    """Stop the bench when the rewrite model failed every one of its first questions (a wrong
    model name or a server that is down would otherwise fail each question in turn, retries
    included)."""
    if len(rewrites) == first and all(r.failed for r in rewrites.values()):
        why = next(iter(rewrites.values())).failed
        raise ModelError(f"the rewrite model failed on each of the first {first} questions; the first: {why}")


def rewrite_report(rewrites: dict[str, Rewrite]) -> dict[str, Any]:
    """What the query rewrites cost: calls, failures, tokens, latency p50/p95 (none: nothing)."""
    if not rewrites:
        return {}
    done = list(rewrites.values())
    ms = sorted(r.ms for r in done)
    return {
        "rewrite": {
            "questions": len(done),
            "failed": sum(1 for r in done if r.failed),
            "prompt_tokens": sum(r.usage.prompt_tokens for r in done),
            "completion_tokens": sum(r.usage.completion_tokens for r in done),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
            "first_failure": next((r.failed for r in done if r.failed), None),
        }
    }


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
