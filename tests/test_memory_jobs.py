"""Memory work is never dropped: when a turn's extraction call fails, the answer still comes
back, the work is kept in the store (redacted), and it is retried before the user's next memory
work — in the next turn, or in a new process — until it succeeds or is given up visibly."""

from __future__ import annotations

from pathlib import Path

from agents.assistant import Assistant
from framework.errors import ModelError
from framework.llm.testing import ScriptedModel, fail, say
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.jobs import MAX_ATTEMPTS
from framework.memory.longterm import MemoryType
from framework.steps.intent import Intent

PY = "Ada prefers Python for scripting"


def remembering(goal: str = "share") -> Intent:
    return Intent(goal=goal, memory_query=goal, remember=True)


def test_a_failed_extraction_is_kept_and_retried_in_a_later_process(home: Path) -> None:
    model = ScriptedModel([say("Noted."), remembering(), fail(ModelError("timeout after 3 attempts"))])
    agent = Assistant(model=model, embedder="hash")
    turn = agent.session("ada", "s1").send("I prefer Python for scripting; my pw: Summer2024!")
    assert turn.answer == "Noted." and "memory extraction failed" in (turn.error or "")
    [job] = agent.memory.jobs.all("ada")
    assert job.status == "pending" and "Summer2024" not in str(job.payload)  # kept redacted
    assert job.payload["intent"]["remember"] is True  # what the attempt learned is kept with it
    agent.close()

    # A new process: the next turn's memory work runs the kept job first (its intent is not asked
    # again: only its extraction), then the turn's own (an intent call; a question keeps nothing).
    model = ScriptedModel(
        [
            say("Hello."),
            Extraction(
                memories=[MemoryCandidate(content=PY, memory_type=MemoryType.preference, confidence=0.95)]
            ),
            Intent(goal="ask", task_type="question", memory_query="x"),
        ]
    )
    agent = Assistant(model=model, embedder="hash")
    later = agent.session("ada", "s2").send("hello again")
    model.assert_consumed()
    assert later.memory_ops == [] and later.error is None  # its own work: nothing to keep
    assert [m.content for m in agent.memory.long_term.active("ada")] == [PY]
    assert [j.status for j in agent.memory.jobs.all("ada")] == ["done", "done"]
    writes = [a for a in agent.memory.long_term.history("ada") if a.operation == "write"]
    assert len(writes) == 1
    agent.close()


def test_a_job_that_keeps_failing_is_given_up_visibly_and_the_work_behind_it_then_runs(home: Path) -> None:
    # turn 1's extraction fails; each later turn retries it first (one failing call), and its own
    # job waits behind it: one user's memory work is applied in order
    script: list[object] = [say("Noted."), remembering(), fail(ModelError("provider down"))]
    for _ in range(MAX_ATTEMPTS - 1):
        script += [say("ok"), fail(ModelError("down"))]
    model = ScriptedModel(script)  # type: ignore[arg-type]
    agent = Assistant(model=model, embedder="hash")
    session = agent.session("ada", "s1")
    session.send("I prefer Python for scripting")
    turns = [session.send("still there?") for _ in range(MAX_ATTEMPTS - 1)]
    model.assert_consumed()
    first, *behind = agent.memory.jobs.all("ada")
    assert first.status == "failed" and first.attempts == MAX_ATTEMPTS and "down" in first.error
    assert [j.status for j in behind] == ["queued"] * (MAX_ATTEMPTS - 1)
    assert all("kept in the store to retry" in (t.error or "") for t in turns)
    assert agent.memory.long_term.active("ada") == []

    # the next turn's work runs them all, oldest first (each a chat turn: an intent call only)
    model.extend([say("ok")] + [Intent(goal="chat", task_type="chat", memory_query="x")] * MAX_ATTEMPTS)
    session.send("what is next?")
    model.assert_consumed()
    assert [j.status for j in agent.memory.jobs.all("ada")] == ["failed"] + ["done"] * MAX_ATTEMPTS
    agent.close()
