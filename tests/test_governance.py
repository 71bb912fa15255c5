"""Memory governance: extraction gating, the write policy, duplicates, refinements,
contradictions, learning from outcomes, approval of writes, consent, merges and failures.
Behaviour with ScriptedModel, the hash test embedder and a real store, on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agents.assistant import Assistant
from agents.devops import DevOps
from framework.errors import ModelError
from framework.llm.testing import ScriptedModel, ScriptedRequest, call, fail, say
from framework.log import user_ref
from framework.memory.governance.candidates import Comparison, Extraction, MemoryCandidate, PairVerdict
from framework.memory.governance.write_policy import WritePolicy
from framework.steps.evaluate import OutcomeJudgment
from framework.steps.intent import Intent

pytestmark = pytest.mark.both_backends

PY = "The user prefers Python for scripting"


def cand(content: str, kind: str = "preference", confidence: float = 0.95, **kw: object) -> MemoryCandidate:
    return MemoryCandidate(content=content, memory_type=kind, confidence=confidence, **kw)  # type: ignore[arg-type]


def remembering(goal: str = "share") -> Intent:
    return Intent(goal=goal, memory_query=goal, remember=True)


def turn_of(agent_cls: type, user: str, text: str, script: list[object], **kw: object):  # type: ignore[no-untyped-def]
    model = ScriptedModel(script)  # type: ignore[arg-type]
    agent = agent_cls(model=model, embedder="hash", **kw)
    try:
        turn = agent.session(user, "s").send(text)
        model.assert_consumed()
        return turn, agent.memory.export(user) if user else None
    finally:
        agent.close()


def seed(home: Path, user: str, *contents: tuple[str, str, str]) -> None:
    """Store memories directly: (content, type, source)."""
    agent = Assistant(model=ScriptedModel(), embedder="hash")
    for content, kind, source in contents:
        extraction = Extraction(memories=[cand(content, kind, source=source)])
        state = agent.memory.working.load(user, "seed")
        agent.memory.apply(user, state, extraction, set(), actor="user")
    agent.close()


def active(export: dict) -> list[str]:  # type: ignore[type-arg]
    return [m["content"] for m in export["memories"] if m["status"] == "active"]


def test_a_turn_with_nothing_to_keep_costs_no_memory_call(home: Path) -> None:
    turn, _ = turn_of(
        Assistant, "ada", "What's 2 + 2?", [Intent(goal="arithmetic", task_type="question"), say("4")]
    )
    assert turn.memory_usage.calls == 0 and turn.usage.calls == 2 and turn.memory_ops == []


def test_a_trivial_turn_costs_no_call_at_all(home: Path) -> None:
    turn, _ = turn_of(Assistant, "ada", "thanks!", [say("You're welcome.")])
    assert turn.intent.trivial and turn.usage.calls == 1 and turn.memory_usage.calls == 0


def test_rejections_are_visible_in_the_turn_with_their_reason(home: Path) -> None:
    extraction = Extraction(
        memories=[
            cand("The user is just for now using a Mac", "fact"),
            cand("The user might move to Berlin", "fact"),
            cand("The user likes tea", confidence=0.5),
            cand(PY),
        ]
    )
    turn, export = turn_of(
        Assistant,
        "ada",
        "Some things about me: I prefer Python for scripting",
        [remembering(), say("ok"), extraction],
    )
    reasons = [op.reason for op in turn.ops("reject")]
    assert [r.split(":")[0] for r in reasons] == ["transient", "speculative", "low confidence 0.50 < 0.70"]
    assert active(export) == [PY]
    assert sum(1 for a in export["audit"] if a["operation"] == "reject") == 3


def test_session_cap_and_anonymous_sessions(home: Path) -> None:
    many = Extraction(
        memories=[
            cand(f"The user owns a {pet}", "fact") for pet in ["cat", "dog", "parrot", "snake", "horse"]
        ]
    )
    capped = type("Capped", (Assistant,), {"write_policy": WritePolicy(max_writes_per_session=3)})
    turn, export = turn_of(capped, "ada", "my pets", [remembering(), say("ok"), many])
    assert len(turn.ops("write")) == 3
    assert [op.reason for op in turn.ops("reject")] == ["session cap: 3 writes per session"] * 2
    # an anonymous session queues no memory work at all: no intent call, no extraction call
    anon, _ = turn_of(Assistant, None, "my pets", [say("ok")])  # type: ignore[arg-type]
    assert anon.memory_ops == [] and anon.usage.calls == 1 and anon.memory_job is None


def test_duplicate_reinforces_instead_of_adding(home: Path) -> None:
    seed(home, "ada", (PY, "preference", "explicit"))
    turn, export = turn_of(
        Assistant,
        "ada",
        "I like Python for scripting",
        [remembering(), say("ok"), Extraction(memories=[cand(PY)])],
    )
    assert [op.kind for op in turn.memory_ops] == ["reinforce"] and turn.memory_usage.calls == 1
    assert active(export) == [PY]
    assert export["memories"][0]["confidence"] == pytest.approx(1.0)


def test_extraction_judged_refinement_supersedes_with_merged_statement(home: Path) -> None:
    seed(home, "ada", ("The user has a dog", "fact", "explicit"))

    def refine(req: ScriptedRequest) -> Extraction:
        assert "#1: The user has a dog (fact)" in req.text
        return Extraction(
            memories=[cand("The user has a dog called Rex", "fact", relation="refines", target=1)]
        )

    turn, export = turn_of(
        Assistant,
        "ada",
        "My dog is called Rex",
        [Intent(goal="share", memory_query="dog", remember=True), say("Nice"), refine],
    )
    assert [(op.kind, op.reason.split(" (")[0]) for op in turn.memory_ops] == [("supersede", "refines #1")]
    assert active(export) == ["The user has a dog called Rex"]
    old = export["memories"][0]
    assert (old["status"], old["superseded_by"]) == ("superseded", 2)


def test_similar_unseen_memories_are_compared_in_one_call(home: Path) -> None:
    # The intent's query does not find the stored memories, so the extraction is not shown them;
    # the curator compares both candidates with their look-alikes in ONE call.
    seed(
        home,
        "ada",
        ("The user drinks coffee every morning", "fact", "inferred"),
        ("The user lives in Lisbon", "fact", "explicit"),
    )
    seen: list[str] = []

    def compare(req: ScriptedRequest) -> Comparison:
        seen.append(req.text)
        return Comparison(
            verdicts=[
                PairVerdict(candidate=0, memory_id=1, relation="contradicts"),
                PairVerdict(
                    candidate=1, memory_id=2, relation="refines", merged="The user lives in Lisbon, in Alfama"
                ),
            ]
        )

    extraction = Extraction(
        memories=[
            cand("The user drinks tea every morning, never coffee", "fact"),
            cand("The user lives in Lisbon in the Alfama district", "fact"),
        ]
    )
    turn, export = turn_of(
        Assistant,
        "ada",
        "zzz",
        [Intent(goal="share", memory_query="zzz", remember=True), say("ok"), extraction, compare],
    )
    assert turn.memory_usage.calls == 2 and len(seen) == 1
    assert "Candidate 0: The user drinks tea" in seen[0] and "existing #1: The user drinks coffee" in seen[0]
    assert sorted(active(export)) == [
        "The user drinks tea every morning, never coffee",
        "The user lives in Lisbon, in Alfama",
    ]
    assert {m["id"]: m["status"] for m in export["memories"]}[1] == "superseded"


def test_contradiction_keeps_the_better_supported_memory_without_losing_the_new(home: Path) -> None:
    seed(home, "ada", ("The user is vegetarian", "fact", "explicit"))
    inferred = cand(
        "The user eats meat", "fact", confidence=0.8, source="inferred", relation="contradicts", target=1
    )
    turn, export = turn_of(
        Assistant,
        "ada",
        "I had a steak... for my friend",
        [
            Intent(goal="chat", memory_query="vegetarian meat", remember=True),
            say("ok"),
            Extraction(memories=[inferred]),
        ],
    )
    op = turn.memory_ops[0]
    assert op.kind == "supersede" and "better supported" in op.reason
    assert active(export) == ["The user is vegetarian"]
    loser = next(m for m in export["memories"] if m["content"] == "The user eats meat")
    assert (loser["status"], loser["superseded_by"]) == ("superseded", 1)

    explicit = cand("The user eats fish now", "fact", relation="contradicts", target=1)
    turn, export = turn_of(
        Assistant,
        "ada",
        "I eat fish now",
        [
            Intent(goal="chat", memory_query="vegetarian", remember=True),
            say("ok"),
            Extraction(memories=[explicit]),
        ],
    )
    assert "the new explicit statement wins" in turn.memory_ops[0].reason
    assert active(export) == ["The user eats fish now"]


def test_failed_extraction_writes_nothing_and_is_logged(home: Path) -> None:
    turn, export = turn_of(
        Assistant,
        "ada",
        "I prefer Python",
        [remembering(), say("ok"), fail(ModelError("invalid JSON after 3 attempts"))],
    )
    assert turn.answer == "ok" and "memory extraction failed" in (turn.error or "")
    assert export["memories"] == []
    log = (home / "logs" / "framework.log").read_text()
    # the log says what happened and to whom, by reference: never what was said
    assert "memory extraction failed" in log and f"user={user_ref('ada')}" in log and "ada" not in log


def test_failed_intent_call_still_completes_the_turn(home: Path) -> None:
    # the answer is asked first; the intent is asked after it, as the turn's memory work
    turn, _ = turn_of(Assistant, "ada", "hello there", [say("Hi"), fail(ModelError("timeout"))])
    assert turn.answer == "Hi" and "intent detection failed: timeout" in (turn.error or "")
    assert "kept to retry" in (turn.error or "")


def test_outcomes_move_confidence_and_a_judged_failure_is_remembered(home: Path) -> None:
    seed(home, "ada", ("Version 2.0 deploys are run by the release script", "fact", "explicit"))
    judged = type("Judged", (DevOps,), {"judge_outcomes": True})
    lesson = "Deploying to production without smoke tests caused an outage"
    turn, export = turn_of(
        judged,
        "ada",
        "deploy version 2.0 with the release script",
        [
            Intent(goal="deploy", task_type="deploy", memory_query="deploy version release script"),
            call("deploy_to_staging", version="2.0"),
            say("Staged."),
            OutcomeJudgment(status="failure", summary="production not reached", lesson=lesson),
            Extraction(),
        ],
    )
    assert turn.outcome.judged_by == "model" and turn.outcome.status == "failure"
    adjusted = [op for op in turn.memory_ops if op.kind == "adjust"]
    assert [(op.memory_id, op.reason) for op in adjusted] == [(1, "-0.2 after failure -> 0.75")]
    outcome = next(m for m in export["memories"] if m["memory_type"] == "outcome")
    assert (outcome["content"], outcome["source"]) == (lesson, "learned")


def test_writes_can_wait_for_a_human(home: Path) -> None:
    approving = type("Approving", (Assistant,), {"write_policy": WritePolicy(require_approval=True)})
    turn, export = turn_of(
        approving,
        "ada",
        "I like Python",
        [remembering(), say("ok"), Extraction(memories=[cand(PY), cand("The user likes tea")])],
    )
    assert [op.kind for op in turn.memory_ops] == ["pending", "pending"] and export["memories"] == []
    agent = approving(model=ScriptedModel(), embedder="hash")
    first, second = (row.id for row in agent.memory.queue.pending("ada"))
    assert [op.kind for op in agent.memory.approve("ada", first)] == ["write"]
    assert [op.kind for op in agent.memory.approve("ada", second, approved=False)] == ["reject"]
    with pytest.raises(KeyError):
        agent.memory.approve("bob", first)
    assert active(agent.memory.export("ada")) == [PY] and agent.memory.queue.pending("ada") == []
    agent.close()


def test_a_user_who_opted_out_gets_nothing_written(home: Path) -> None:
    agent = Assistant(model=ScriptedModel(), embedder="hash")
    agent.memory.consent.set_opted_out("ada", True)
    agent.close()
    turn, export = turn_of(
        Assistant, "ada", "I like Python", [remembering(), say("ok"), Extraction(memories=[cand(PY)])]
    )
    assert [op.reason for op in turn.memory_ops] == ["user opted out of long-term memory"]
    assert active(export) == []


def test_merge_folds_related_memories_into_one(home: Path) -> None:
    seed(
        home,
        "ada",
        ("The user likes hiking", "preference", "explicit"),
        ("The user hikes in the Alps", "fact", "inferred"),
    )
    agent = Assistant(model=ScriptedModel(), embedder="hash")
    op = agent.memory.merge("ada", [1, 2], "The user likes hiking, mostly in the Alps")
    export = agent.memory.export("ada")
    agent.close()
    assert op.memory_id == 3 and active(export) == ["The user likes hiking, mostly in the Alps"]
    assert {m["id"]: (m["status"], m["superseded_by"]) for m in export["memories"] if m["id"] < 3} == {
        1: ("superseded", 3),
        2: ("superseded", 3),
    }
    with pytest.raises(ValueError, match="at least two active memories"):
        Assistant(model=ScriptedModel(), embedder="hash").memory.merge("ada", [1, 3], "x")


def test_superseded_memories_leave_the_indexes(home: Path, raw_sql: Callable[..., list[tuple]]) -> None:  # type: ignore[type-arg]
    test_merge_folds_related_memories_into_one(home)
    assert raw_sql("SELECT count(*) FROM memory_fts WHERE rowid IN (1, 2)") == [(0,)]
    assert raw_sql("SELECT rowid FROM memory_fts") == [(3,)]
    assert raw_sql("SELECT memory_id FROM memory_vec") == [(3,)]
