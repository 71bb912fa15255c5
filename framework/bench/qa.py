"""End-to-end question answering on LoCoMo (Maharana et al., ACL 2024) with any litellm model:
memory written by the agent's own pipeline, questions answered by the agent, answers graded by
an LLM judge whose prompt is published (prompts/qa_judge.j2).

    export OPENAI_API_KEY=sk-...            # the provider's key, as litellm reads it
    framework bench qa --model openai/gpt-4o-mini --dataset locomo10.json \\
        [--judge-model openai/gpt-4o-mini] [--limit 50] [--out qa.jsonl] [--resume] [--json]

Any litellm model string works for `--model` and `--judge-model` (the judge defaults to the
model): `anthropic/claude-3-5-haiku-latest` with ANTHROPIC_API_KEY, `ollama/llama3` for a local
Ollama, or any OpenAI-compatible server with `--model openai/NAME` and FRAMEWORK_API_BASE (e.g.
http://127.0.0.1:8765/v1) plus OPENAI_API_KEY set to anything the server accepts. The embedder is
the settings' (FRAMEWORK_EMBEDDER; `--embedder`).

Ingest. Each conversation is one user (its sample id); each of its sessions is a session of that
user. The session's lines are fed, `chunk` turns at a time, through the agent's own memory
operations — `MemoryManager.memorize` with the agent's model: one extraction call, provenance,
the write policy, dedup against stored memories, and a comparison call that supersedes or refines
when the curator needs one — exactly what the agent runs after a turn, minus the answer and the
intent call (a transcript has nothing to answer, and the intent's "worth remembering?" gate would
leave the decision to chance). Each chunk's memories are written as of the session's date
(the exchange's `said_at`: their event time, which recall's date signal reads), and each chunk
opens with that date as the dataset gives it ("1:56 pm on 8 May, 2023"): the extraction can
resolve "yesterday" and write the date into the memory. The bench agent allows the special
categories of personal data (the conversations are about the speakers' lives, health and
identity; the default policy blocks them) and lifts the per-session write cap (a LoCoMo session
is a whole day's conversation).

Answer. Each question is a turn of a fresh session of the conversation's user: recall, the
answer request, and the memory work the agent does after any turn (its intent call; an
extraction when it judges the question taught it something, as it would for a user). The answer
latency is the time `send` takes (the answer; the memory work runs after it, in the background,
and is waited for before the next question). Calls and tokens per question are the agent's own
(answer and memory work); the judge's are counted apart.

Judge. One completion per question with prompts/qa_judge.j2; its label is read from the reply
(framework.bench.qa_scoring.parse_verdict). J is the share judged CORRECT (an unreadable verdict
counts as wrong and is reported); F1 and BLEU-1 are lexical (qa_scoring). Category 5
(adversarial, no answer in the labels) is left out, as in the published LLM-judge figures.

Results are one JSON line per question in `out`, appended as each is judged; the store and the
ingest record sit next to it in `<out>.memory/`. `resume` skips the questions already in `out`
and the conversations already ingested (a conversation whose ingest was cut off is ingested again
from scratch). `limit` takes the first N questions in file order and ingests only their
conversations. The data is CC BY-NC: read from the path given, never copied.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from framework.agent import Agent
from framework.bench.qa_scoring import bleu1, f1, parse_verdict, summarize
from framework.bench.retrieval import CATEGORIES, parse_date, turn_content
from framework.config import load_settings
from framework.errors import FrameworkError, ModelNotConfigured
from framework.llm import Message, configured_model
from framework.llm.base import Model
from framework.memory.governance import WritePolicy
from framework.outcome import Exchange, Outcome
from framework.prompts import render

CHUNK = 6  # conversation turns per extraction call
_SESSION = re.compile(r"session_(\d+)$")


@dataclass
class DatedSession:
    number: int
    date: str  # as the dataset gives it ("1:56 pm on 8 May, 2023"); "" when it has none
    lines: list[str]  # "speaker: text" (and a shared photo's caption)


@dataclass
class Question:
    id: str  # "<sample id>#<index in its qa list>"
    sample_id: str
    text: str
    gold: str
    category: str


@dataclass
class Sample:
    sample_id: str
    speakers: tuple[str, str]
    sessions: list[DatedSession]
    questions: list[Question] = field(default_factory=list)


class QAAgent(Agent):
    """The agent the benchmark runs: no tools, short answers from memory."""

    name = "locomo-qa"
    instructions = (
        "You answer questions about the conversations you remember between two people. Answer from "
        "what you remember, in a short phrase (a few words, no full sentence). When asked when "
        "something happened, give the date or period. If you do not remember, say so in a few words."
    )
    write_policy = WritePolicy(max_writes_per_session=10_000, allow_special_categories=True)
    recall_limit = 10


def load(path: Path, only: set[str] | None = None) -> list[Sample]:
    """The samples of a LoCoMo-format file (all, or those in `only`), with their questions of
    categories 1-4."""
    try:
        return _samples(json.loads(path.read_text(encoding="utf-8")), path, only)
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a LoCoMo-format file ({type(exc).__name__}: {exc})") from None


def _samples(data: Any, path: Path, only: set[str] | None) -> list[Sample]:
    samples = []
    for raw in data:
        sample_id = str(raw["sample_id"])
        if only is not None and sample_id not in only:
            continue
        talk = raw["conversation"]
        numbers = sorted(int(m[1]) for k in talk if (m := _SESSION.match(k)) and isinstance(talk[k], list))
        sessions = [
            DatedSession(
                n,
                str(talk.get(f"session_{n}_date_time", "")).strip(),
                [turn_content(t) for t in talk[f"session_{n}"]],
            )
            for n in numbers
        ]
        sample = Sample(sample_id, (str(talk.get("speaker_a", "")), str(talk.get("speaker_b", ""))), sessions)
        for index, qa in enumerate(raw.get("qa", [])):
            category = CATEGORIES.get(qa.get("category"))
            if category is not None and "answer" in qa:
                sample.questions.append(
                    Question(
                        f"{sample_id}#{index}", sample_id, str(qa["question"]), str(qa["answer"]), category
                    )
                )
        samples.append(sample)
    if only is not None and (missing := only - {s.sample_id for s in samples}):
        raise ValueError(f"{path}: no conversation with sample_id {sorted(missing)}")
    return samples


def ingest(
    agent: Agent, sample: Sample, chunk: int = CHUNK, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Write one conversation into the agent's memory through its memory operations (module
    docstring); what it cost and did. A chunk whose calls fail is counted and skipped."""
    memory, user = agent.memory, sample.sample_id
    a, b = sample.speakers
    started, ops = time.perf_counter(), Counter[str]()
    rejected = Counter[str]()
    stats: dict[str, Any] = {"model": agent.llm.name, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    chunks = failed = 0
    for session in sample.sessions:
        state = memory.load_state(user, f"session_{session.number}")
        when = f" on {session.date}" if session.date else ""
        said_at = parse_date(session.date) if session.date else None  # the memories' event time
        earlier: list[str] = []
        for start in range(0, len(session.lines), chunk):
            text = f"From a conversation between {a} and {b}{when} (session {session.number}):\n" + "\n".join(
                session.lines[start : start + chunk]
            )
            exchange = Exchange(
                text, "", [], Outcome("none", "a conversation transcript, imported"), said_at=said_at
            )
            chunks += 1
            try:
                work = memory.memorize(
                    agent.llm, user, state, memory.related(user, text), exchange, earlier=earlier[-6:]
                )
            except ModelNotConfigured:
                raise
            except FrameworkError as exc:
                failed += 1
                echo(f"  {user} session {session.number}: a chunk was not written ({exc})")
                continue
            finally:
                earlier.append(text)
            memory.save_state(state)
            stats["calls"] += work.usage.calls
            stats["prompt_tokens"] += work.usage.prompt_tokens
            stats["completion_tokens"] += work.usage.completion_tokens
            ops.update(op.kind for op in work.ops)
            rejected.update(_reason(op.reason) for op in work.ops if op.kind == "reject")
        echo(
            f"  {user}: session {session.number}/{len(sample.sessions)} ingested, "
            f"{ops['write']} memories so far"
        )
    stats.update(
        chunks=chunks,
        failed_chunks=failed,
        written=ops["write"],
        superseded=ops["supersede"],
        reinforced=ops["reinforce"],
        rejected=ops["reject"],
        rejected_why=dict(rejected),
        seconds=round(time.perf_counter() - started, 1),
    )
    return stats


def answer(agent: Agent, question: Question) -> dict[str, Any]:
    """Ask the question in a fresh session of the conversation's user; the answer, its latency,
    and the agent's calls and tokens (the answer's, then with the memory work after it)."""
    session = agent.session(question.sample_id)
    started = time.perf_counter()
    turn = session.send(question.text)
    latency_ms = (time.perf_counter() - started) * 1000
    session.flush()
    usage, answered = turn.usage, turn.answer_usage
    return {
        "answer": turn.answer,
        "latency_ms": round(latency_ms, 1),
        "calls": usage.calls,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "tokens": usage.total_tokens,
        "answer_calls": answered.calls,
        "answer_prompt_tokens": answered.prompt_tokens,
        "answer_completion_tokens": answered.completion_tokens,
        "error": turn.error,
    }


def judge(model: Model, question: Question, given: str) -> dict[str, Any]:
    """The LLM judge's verdict on one answer (prompts/qa_judge.j2)."""
    prompt = render("qa_judge", question=question.text, gold=question.gold, answer=given)
    try:
        reply = model.complete([Message("user", prompt)])
    except ModelNotConfigured:
        raise
    except FrameworkError as exc:
        return {
            "correct": None,
            "verdict": None,
            "judge_reply": None,
            "judge_error": str(exc),
            "judge_calls": 1,
            "judge_prompt_tokens": 0,
            "judge_completion_tokens": 0,
        }
    correct = parse_verdict(reply.text)
    return {
        "correct": correct,
        "verdict": None if correct is None else ("CORRECT" if correct else "WRONG"),
        "judge_reply": reply.text,
        "judge_error": None,
        "judge_calls": reply.usage.calls,
        "judge_prompt_tokens": reply.usage.prompt_tokens,
        "judge_completion_tokens": reply.usage.completion_tokens,
    }


def run(
    dataset: Path,
    model: str | Model,
    out: Path,
    *,
    judge_model: str | Model | None = None,
    limit: int | None = None,
    resume: bool = False,
    conversations: set[str] | None = None,
    chunk: int = CHUNK,
    embedder: str | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Ingest, answer, judge (module docstring); the run's figures over every selected question
    that has a result line, this run's and earlier ones'."""
    samples = load(dataset, conversations)
    selected = [q for s in samples for q in s.questions][: limit if limit is not None else None]
    wanted = {q.id for q in selected}
    store = out.parent / f"{out.name.removesuffix('.jsonl')}.memory"
    name = model if isinstance(model, str) else model.name
    judge_spec = judge_model if judge_model is not None else model
    judge_name = judge_spec if isinstance(judge_spec, str) else judge_spec.name
    config = {"dataset": str(dataset.resolve()), "model": name, "judge_model": judge_name, "chunk": chunk}
    record = _prepare(out, store, config, resume)
    done = {r["id"] for r in _results(out)} if resume else set()

    todo = [(s, [q for q in s.questions if q.id in wanted and q.id not in done]) for s in samples]
    todo = [(sample, pending) for sample, pending in todo if pending]
    if todo:
        _answer_all(todo, store, record, model, judge_model, chunk, embedder, out, echo)
    results = [r for r in _results(out) if r["id"] in wanted]
    ingested = [
        record["ingested"][s] for s in sorted({r["conversation"] for r in results}) if s in record["ingested"]
    ]
    summary = summarize(results, CATEGORIES.values(), ingested)
    summary.update(model=name, judge_model=judge_name, out=str(out), selected=len(selected))
    return summary


def _answer_all(
    todo: list[tuple[Sample, list[Question]]],
    store: Path,
    record: dict[str, Any],
    model: str | Model,
    judge_model: str | Model | None,
    chunk: int,
    embedder: str | None,
    out: Path,
    echo: Callable[[str], None],
) -> None:
    """Ingest what is not ingested yet, then answer and judge each pending question, appending
    its result line as soon as it is judged."""
    agent = _agent(store, model, embedder)
    try:
        if judge_model is None:
            grader = agent.llm  # the agent's own model object
        else:
            grader = _resolve(judge_model, agent) if isinstance(judge_model, str) else judge_model
        for sample, pending in todo:
            if sample.sample_id not in record["ingested"]:
                agent.memory.delete_user(
                    sample.sample_id, actor="bench", reason="ingest (again) from the start"
                )
                echo(
                    f"ingesting {sample.sample_id}: {sum(len(s.lines) for s in sample.sessions)} turns in "
                    f"{len(sample.sessions)} sessions, {chunk} turns per extraction"
                )
                record["ingested"][sample.sample_id] = ingest(agent, sample, chunk, echo)
                _write_record(store, record)
            for question in pending:
                result = answer(agent, question)
                graded = judge(grader, question, result["answer"])
                line = {
                    "id": question.id,
                    "conversation": question.sample_id,
                    "question": question.text,
                    "category": question.category,
                    "gold": question.gold,
                    **result,
                    "f1": round(f1(result["answer"], question.gold), 4),
                    "bleu1": round(bleu1(result["answer"], question.gold), 4),
                    **graded,
                    "model": agent.llm.name,
                    "judge_model": grader.name,
                }
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                echo(
                    f"  {question.id} {question.category}: {line['verdict'] or 'unjudged'}, "
                    f"F1 {line['f1']:.2f}, {line['latency_ms']:.0f} ms"
                )
    finally:
        agent.close()


def _agent(store: Path, model: str | Model, embedder: str | None) -> Agent:
    """The bench agent on the run's own store (never the user's: database and working memory are
    files in `store`); memory work in the background, so an answer's latency is the answer's."""
    settings = load_settings(
        store,
        model=model if isinstance(model, str) else None,
        embedder=embedder,
        database_url=f"sqlite:///{store / 'memory.db'}",
        memory_work="background",
        memory_wait_s=120.0,
    )
    return QAAgent(model=model, settings=replace(settings, working_url=None))


def _resolve(spec: str, agent: Agent) -> Model:
    return configured_model(spec, agent.settings)


def _prepare(out: Path, store: Path, config: dict[str, Any], resume: bool) -> dict[str, Any]:
    """The run's record (its settings and the conversations ingested), checked against an earlier
    run's when resuming; a fresh run starts from an empty store and refuses to overwrite results."""
    marker = store / "run.json"
    if resume and marker.exists():
        record: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
        changed = [k for k, v in config.items() if record.get("config", {}).get(k) != v]
        if changed:
            was = ", ".join(f"{k} was {record['config'].get(k)!r}, now {config[k]!r}" for k in changed)
            raise ValueError(f"{out}: cannot resume a run with other settings ({was}); start a new --out")
        return record
    if not resume:
        if out.exists() and out.stat().st_size > 0:
            raise ValueError(
                f"{out} already holds results: pass --resume to continue it, or choose another --out"
            )
        if store.exists():
            if not marker.exists():
                raise ValueError(f"{store} exists and is not a bench store: choose another --out")
            shutil.rmtree(store)
    store.mkdir(parents=True, exist_ok=True)
    record = {"config": config, "ingested": {}}
    _write_record(store, record)
    return record


def _write_record(store: Path, record: dict[str, Any]) -> None:
    tmp = store / "run.json.tmp"
    tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    tmp.replace(store / "run.json")


def _results(out: Path) -> list[dict[str, Any]]:
    """The result lines in `out`; a last line cut off by a crash is dropped from the file."""
    if not out.exists():
        return []
    text = out.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        out.write_text(text, encoding="utf-8")
    results = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                results.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{out}, line {number}: not a result line ({exc})") from None
    return results


def _reason(reason: str) -> str:
    """A rejection's kind: "sensitive", "provenance", "low confidence", "session cap", ..."""
    return re.sub(r"[\d.<> ]+$", "", reason.split(":", 1)[0]).strip() or "other"


def report(summary: dict[str, Any]) -> list[str]:
    """The run's figures as the lines `framework bench qa` prints."""
    s = summary

    def usd(value: float | None) -> str:
        return "n/a" if value is None else f"${value:.4f}"

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f} ms"

    lines = [
        f"LoCoMo QA: {s['questions']} questions judged (of {s['selected']} selected); model {s['model']}, "
        f"judge {s['judge_model']}; results in {s['out']}",
        f"  {'category':<12} {'n':>4} {'J':>6} {'F1':>6} {'BLEU-1':>7}",
    ]
    rows = [("overall", s["overall"])] + list(s["by_category"].items())
    for label, g in rows:
        lines.append(f"  {label:<12} {g['questions']:>4} {g['J']:>6.3f} {g['F1']:>6.3f} {g['BLEU-1']:>7.3f}")
    if s["overall"]["unjudged"]:
        lines.append(f"  ({s['overall']['unjudged']} verdicts unreadable or failed: counted wrong)")
    pq = s["per_question"]
    lines.append(
        "  per question: "
        + "; ".join(
            f"{part} {pq[key]['calls']:.2f} calls, {pq[key]['tokens']:.0f} tokens"
            for part, key in (
                ("answer", "answer"),
                ("memory work after it", "memory_work"),
                ("judge", "judge"),
            )
        )
    )
    lines.append(f"  answer latency p50 {ms(s['latency_ms']['p50'])}, p95 {ms(s['latency_ms']['p95'])}")
    i = s["ingest"]
    lines.append(
        f"  ingest: {i['conversations']} conversation(s), {i['calls']} calls, {i['tokens']} tokens; "
        f"{i['written']} memories written, {i['rejected']} candidates rejected, "
        f"{i['failed_chunks']} chunks failed"
    )
    c = s["cost_usd"]
    lines.append(
        f"  cost (litellm's price map): ingest {usd(c['ingest'])}, answers {usd(c['answers'])}, memory work "
        f"{usd(c['memory_work'])}, judge {usd(c['judge'])}; total {usd(c['total'])}"
    )
    return lines
