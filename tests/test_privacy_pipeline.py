"""No secret stored anywhere, through the real runtime: every item of the public privacy corpus
(framework/bench/data/privacy_corpus.yaml) in every mode — verbatim, paraphrased, split across
turns, split across two memories, said earlier and named later, restated later — goes through
real turns whose scripted extraction is fooled (it keeps whatever it is shown). Afterwards a byte
search of every file under FRAMEWORK_HOME (the database and its write-ahead log, which hold the
memory, FTS, audit and approval-queue tables; the working-memory cache; the logs) finds none of
the values, and no memory holds one. Benign look-alikes are still written (at most 1% refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from framework import Agent, WritePolicy
from framework.bench.privacy_corpus import Case, SecretItem, load
from framework.llm.testing import ScriptedModel, say
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.longterm import MemoryType
from framework.steps.intent import Intent

CORPUS = load()
ITEMS = {item.id: item for item in CORPUS.secrets}


class Keeper(Agent):
    name = "keeper"


class ApprovingKeeper(Agent):
    name = "approving-keeper"
    write_policy = WritePolicy(require_approval=True)


def _remember(text: str) -> Extraction:
    return Extraction(memories=[MemoryCandidate(content=text, memory_type=MemoryType.fact, confidence=0.95)])


def _turn(user: str, extracted: list[str] | None) -> tuple[str, list[Any]]:
    """A user line, and the script of a fooled model: it keeps `extracted` (nothing when None)."""
    if extracted is None:
        return user, [Intent(goal="chat", task_type="chat", memory_query="x"), say("ok")]
    memories = [MemoryCandidate(content=m, memory_type=MemoryType.fact, confidence=0.95) for m in extracted]
    return user, [
        Intent(goal="share", memory_query="x", remember=True),
        say("noted"),
        Extraction(memories=memories),
    ]


def _script(case: Case, item: SecretItem) -> list[tuple[str, list[Any]]]:
    """The turns that put `case` to the runtime."""
    if case.mode in ("verbatim", "paraphrased"):
        return [_turn(case.candidate, [item.paraphrase])]
    if case.mode == "split_turns":
        return [_turn(case.context[0], list(case.context)), _turn(case.candidate, [case.candidate])]
    if case.mode == "split_memories":  # the user said it whole; the model kept it in two halves
        return [_turn(item.text, [*case.context, case.candidate])]
    if case.mode == "earlier_later":  # said bare (nothing to keep yet), then named
        return [
            _turn(case.context[0], None),
            _turn(case.candidate, [f"{item.value} is the user's {item.label}"]),
        ]
    if case.mode == "restated":
        first, second = case.context
        return [
            _turn(first, None),
            _turn(second, None),
            _turn("Keep what I mentioned before", [case.candidate]),
        ]
    raise AssertionError(case.mode)


def _run(home: Path, agent_cls: type[Agent], cases: list[Case]) -> list[Any]:
    model = ScriptedModel()
    agent = agent_cls(model=model, embedder="hash")
    turns = []
    try:
        for n, case in enumerate(cases):
            session = agent.session(f"user-{n}", f"s-{n}")
            for text, steps in _script(case, ITEMS[case.item_id]):
                model.extend(steps)
                turns.append(session.send(text))
                model.assert_consumed()
        return turns
    finally:
        agent.close()


def _leaks(home: Path, cases: list[Case]) -> list[str]:
    """Every (case, file) where a value is found, byte for byte, in any file under the home. Values
    too short to be told from other bytes are left to the memory checks: under 5 characters, and
    numbers under 8 digits (timestamps hold such digit runs)."""
    blobs = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    found = []
    for case in cases:
        value = case.value.encode()
        if len(value) < 5 or (value.isdigit() and len(value) < 8):
            continue
        found += [
            f"{case.mode} {case.item_id} in {p.relative_to(home)}" for p, b in blobs.items() if value in b
        ]
    return found


MODES = ("verbatim", "paraphrased", "split_turns", "split_memories", "earlier_later", "restated")


@pytest.mark.parametrize("mode", MODES)
def test_no_secret_of_the_corpus_is_stored_anywhere(home: Path, mode: str) -> None:
    # one case per item (split_memories yields the lone first half first: the pair, last, covers it)
    chosen = list({c.item_id: c for c in CORPUS.cases((mode,))}.values())
    assert len(chosen) >= 300
    turns = _run(home, Keeper, chosen)
    writes = [
        op.content for t in turns for op in t.memory_ops if op.kind in ("write", "supersede", "pending")
    ]
    stored = [c.item_id for c in chosen for w in writes if c.value in w]
    assert stored == [], f"{len(stored)} of {len(chosen)} stored as memories: {stored[:10]}"
    leaks = _leaks(home, chosen)
    assert leaks == [], f"{len(leaks)} values found on disk: {leaks[:10]}"


def test_the_approval_queue_holds_no_secret(home: Path) -> None:
    chosen = list({c.item_id: c for c in CORPUS.cases(("paraphrased",))}.values())
    turns = _run(home, ApprovingKeeper, chosen)
    assert not [
        op
        for t in turns
        for op in t.memory_ops
        if op.kind == "pending"
        and "REDACTED" not in op.content
        and any(c.value in op.content for c in chosen)
    ]
    assert _leaks(home, chosen) == []


def test_benign_look_alikes_are_still_remembered(home: Path) -> None:
    model = ScriptedModel()
    agent = Keeper(model=model, embedder="hash")
    refused = []
    try:
        for n, item in enumerate(CORPUS.benign):
            session = agent.session(f"user-{n}", f"b-{n}")
            for earlier in item.context:
                model.extend([Intent(goal="chat", task_type="chat", memory_query="x"), say("ok")])
                session.send(earlier)
            model.extend(
                [Intent(goal="share", memory_query="x", remember=True), say("noted"), _remember(item.text)]
            )
            turn = session.send(item.text)
            model.assert_consumed()
            refused += [
                f"{item.id}: {op.reason}" for op in turn.ops("reject") if op.reason.startswith("sensitive")
            ]
    finally:
        agent.close()
    assert len(CORPUS.benign) >= 150
    assert len(refused) <= len(CORPUS.benign) // 100, refused
