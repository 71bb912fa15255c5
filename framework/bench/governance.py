"""What memory governance costs and does over a scripted 50-turn conversation.

The model is a ScriptedModel (replies written below); its structured calls are metered with the
tokenizer on the prompts the runtime really rendered and the replies it really parsed, so the
token figures are those a real model would bill for the same exchange (within tokenizer
differences). Everything else is real: the store, the embedder ("hash"), the curation.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from framework.agent import Agent
from framework.config import load_settings
from framework.llm.messages import Completion, Message, Structured, Usage
from framework.llm.testing import ScriptedModel, ScriptedRequest, say
from framework.memory.context import TokenCounter
from framework.memory.governance.candidates import (
    Comparison,
    Extraction,
    ForgetRequest,
    MemoryCandidate,
    PairVerdict,
)
from framework.steps.intent import Intent

M = TypeVar("M", bound=BaseModel)
MEMORY_OPS = (Extraction, Comparison)


class _MeteredModel:
    """Delegates to a ScriptedModel and counts the tokens of each exchange."""

    def __init__(self, inner: ScriptedModel) -> None:
        self.inner, self.name, self.counter = inner, inner.name, TokenCounter()

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion:
        return self.inner.complete(messages, tools)

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        out = self.inner.structured(messages, response_model)
        prompt = sum(self.counter.count(m.content or "") for m in messages)
        reply = self.counter.count(out.value.model_dump_json())
        return Structured(out.value, Usage(calls=1, prompt_tokens=prompt, completion_tokens=reply))


def _fact(content: str, kind: str = "fact", confidence: float = 0.95, **kw: Any) -> MemoryCandidate:
    return MemoryCandidate(content=content, memory_type=kind, confidence=confidence, **kw)


def _listed(req: ScriptedRequest, words: str) -> int:
    match = re.search(rf"#(\d+): [^\n]*{re.escape(words)}", req.text)
    if match is None:
        raise AssertionError(f"the extraction prompt lists no memory with {words!r}")
    return int(match.group(1))


def _conversation() -> list[tuple[str, list[Any]]]:
    """(user line, scripted replies). Mixed like a real week of use: chatter, questions, facts,
    repeats, corrections, secrets, speculation, retractions."""
    ask = lambda q: (q, [Intent(goal=q, task_type="question", memory_query=q), say("Here you go.")])  # noqa: E731
    trivial = lambda t: (t, [say("You're welcome.")])  # noqa: E731

    def tell(line: str, *candidates: MemoryCandidate, query: str = "") -> tuple[str, list[Any]]:
        return line, [
            Intent(goal="share", memory_query=query or line, remember=True),
            say("Noted."),
            Extraction(memories=list(candidates)),
        ]

    def correct(line: str, old_words: str, new: str, query: str) -> tuple[str, list[Any]]:
        return line, [
            Intent(goal="correct", memory_query=query, correction=True),
            say("Updated."),
            lambda req: Extraction(memories=[_fact(new, relation="refines", target=_listed(req, old_words))]),
        ]

    def forget(line: str, words: str, query: str) -> tuple[str, list[Any]]:
        return line, [
            Intent(goal="forget", memory_query=query, forget=True),
            say("Forgotten."),
            lambda req: Extraction(forget=[ForgetRequest(memory_id=_listed(req, words), reason=line)]),
        ]

    def compared(line: str, content: str, relation: str) -> tuple[str, list[Any]]:
        # the query misses the stored look-alike, so the curator compares it (one extra call)
        def verdict(req: ScriptedRequest) -> Comparison:
            listed = re.findall(r"existing #(\d+)", req.text)
            if not listed:
                raise AssertionError(f"no stored memory was compared with {content!r}")
            target = int(listed[0])
            return Comparison(
                verdicts=[
                    PairVerdict(
                        candidate=0,
                        memory_id=target,
                        relation=relation,
                        merged=content if relation == "refines" else None,
                    )
                ]
            )

        return line, [
            Intent(goal="share", memory_query="qqq", remember=True),
            say("Noted."),
            Extraction(memories=[_fact(content)]),
            verdict,
        ]

    return [
        tell(
            "I prefer Python over JavaScript", _fact("The user prefers Python over JavaScript", "preference")
        ),
        trivial("thanks"),
        ask("How do I reverse a list?"),
        tell("I work at Acme as a backend engineer", _fact("The user works at Acme as a backend engineer")),
        tell("My team deploys on Tuesdays", _fact("The user's team deploys on Tuesdays")),
        tell("I live in Lisbon", _fact("The user lives in Lisbon")),
        ask("What is a good name for a CLI flag?"),
        tell("I use Neovim", _fact("The user uses Neovim as their editor", "preference")),
        tell("My password is Tr0ub4dor&3, remember it", _fact("The user's password is Tr0ub4dor&3")),
        tell("I might learn Rust next year", _fact("The user might learn Rust next year", confidence=0.8)),
        ask("Explain Python decorators"),
        trivial("great"),
        tell(
            "I really do prefer Python to JavaScript",
            _fact("The user prefers Python over JavaScript", "preference"),
        ),
        correct(
            "Actually I deploy on Wednesdays, not Tuesdays",
            "deploys on Tuesdays",
            "The user's team deploys on Wednesdays",
            "team deploys Tuesdays",
        ),
        ask("How do I write a unit test?"),
        tell("Just for now I'm on my laptop", _fact("The user is just for now on a laptop")),
        tell(
            "My API key is sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
            _fact("The user's key is sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123"),
        ),
        trivial("cool"),
        tell("Our service is called ledger", _fact("The user's service is called ledger")),
        compared("Got promoted last week!", "The user works at Acme as a senior backend engineer", "refines"),
        ask("What does idempotent mean?"),
        tell("I have two kids", _fact("The user has two kids")),
        forget("Please don't remember that I have kids", "two kids", "kids"),
        trivial("thanks!"),
        ask("Show me a regex for emails"),
        tell("Never deploy on Fridays", _fact("Never deploy on Fridays", "constraint")),
        trivial("ok"),
        compared("We finally found a house up north, in Porto", "The user lives in Porto", "contradicts"),
        ask("What's the capital of Portugal?"),
        trivial("ok"),
        tell("My card is 4111 1111 1111 1111", _fact("The user's card number is 4111 1111 1111 1111")),
        tell(
            "I am thinking about switching to Go",
            _fact("The user is thinking about switching to Go", confidence=0.75),
        ),
        ask("How do I profile Python code?"),
        tell("I like dark mode", _fact("The user likes dark mode", "preference")),
        tell("I like dark mode in every editor", _fact("The user likes dark mode", "preference")),
        trivial("great"),
        ask("Summarise PEP 8"),
        tell(
            "Code reviews need two approvals on my team",
            _fact("The user's team requires two approvals for code reviews", "constraint"),
        ),
        compared(
            "We rewrote it all in Go last quarter", "The user's service ledger is written in Go", "refines"
        ),
        ask("What is a monad?"),
        tell("I drink coffee", _fact("The user drinks coffee", "preference", confidence=0.6)),
        tell("I'm allergic to peanuts", _fact("The user is allergic to peanuts")),
        trivial("thx"),
        forget("Forget that I use Neovim", "Neovim", "editor Neovim"),
        ask("How do I read a CSV file?"),
        tell(
            "My on-call week is the first of each month",
            _fact("The user's on-call week is the first week of each month"),
        ),
        (
            "Reviews still need two approvals here",
            [
                Intent(goal="restate a rule", memory_query="code review approvals", remember=True),
                say("Noted."),
                lambda req: Extraction(
                    memories=[
                        _fact(
                            "The user's team requires two approvals for code reviews",
                            "constraint",
                            relation="duplicate",
                            target=_listed(req, "two approvals"),
                        )
                    ]
                ),
            ],
        ),
        ask("Is Python slower than Go?"),
        trivial("bye"),
        tell("Remember: my timezone is Europe/Lisbon", _fact("The user's timezone is Europe/Lisbon")),
    ]


class _BenchAgent(Agent):
    name = "governance-bench"


def measure() -> dict[str, Any]:
    conversation = _conversation()
    model = ScriptedModel([step for _line, steps in conversation for step in steps])
    with tempfile.TemporaryDirectory(prefix="framework-bench-") as tmp:
        agent = _BenchAgent(model=_MeteredModel(model), settings=load_settings(Path(tmp), embedder="hash"))
        turns = []
        for i, (line, _steps) in enumerate(conversation):  # a new session every ten turns, as over a week
            if i % 10 == 0:
                session = agent.session("bench-user", f"day-{i // 10 + 1}")
            turns.append(session.send(line))
        agent.close()
    model.assert_consumed()
    trivial = [t for t in turns if t.intent is not None and t.intent.trivial]
    nontrivial = [t for t in turns if t not in trivial]
    ops = Counter(op.kind for t in turns for op in t.memory_ops)
    # by reason: "sensitive: api_key" -> "sensitive", "low confidence 0.60 < 0.70" -> "low confidence"
    rejected = Counter(re.sub(r"[^a-z ].*", "", op.reason).strip() for t in turns for op in t.ops("reject"))
    calls = sum(t.memory_usage.calls for t in turns)
    return {
        "turns": len(turns),
        "trivial_turns": len(trivial),
        "memory_op_calls": calls,
        "calls_per_nontrivial_turn": round(
            sum(t.memory_usage.calls for t in nontrivial) / len(nontrivial), 3
        ),
        "calls_per_trivial_turn": round(sum(t.memory_usage.calls for t in trivial) / max(1, len(trivial)), 3),
        "tokens_per_turn": round(sum(t.memory_usage.total_tokens for t in turns) / len(turns), 1),
        "written": ops["write"],
        "rejected": dict(sorted(rejected.items())),
        "reinforced": ops["reinforce"],
        "superseded": ops["supersede"],
        "forgotten": ops["forget"],
        "errors": [t.error for t in turns if t.error],
    }
