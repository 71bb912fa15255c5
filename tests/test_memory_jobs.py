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
    model = ScriptedModel([remembering(), say("Noted."), fail(ModelError("timeout after 3 attempts"))])
    agent = Assistant(model=model, embedder="hash")
    turn = agent.session("ada", "s1").send("I prefer Python for scripting; my pw: Summer2024!")
    assert turn.answer == "Noted." and "memory extraction failed" in (turn.error or "")
    [job] = agent.memory.jobs.all("ada")
    assert job.status == "pending" and "Summer2024" not in str(job.payload)  # kept redacted
    agent.close()

    # A new process: the next turn's memory work runs the kept job first, then its own.
    model = ScriptedModel(
        [
            Intent(goal="ask", task_type="question", memory_query="x"),
            say("Hello."),
            Extraction(
                memories=[MemoryCandidate(content=PY, memory_type=MemoryType.preference, confidence=0.95)]
            ),
        ]
    )
    agent = Assistant(model=model, embedder="hash")
    later = agent.session("ada", "s2").send("hello again")
    model.assert_consumed()
    assert [op.kind for op in later.memory_ops] == ["write"] and later.memory_ops[0].content == PY
    assert [m.content for m in agent.memory.long_term.active("ada")] == [PY]
    assert [j.status for j in agent.memory.jobs.all("ada")] == ["done"]
    assert later.memory_usage.calls == 1
    agent.close()


def test_a_job_that_keeps_failing_is_given_up_visibly(home: Path) -> None:
    script = [remembering(), say("Noted."), fail(ModelError("provider down"))]
    for _ in range(MAX_ATTEMPTS):  # a chat turn extracts nothing itself: its one memory call is the retry
        script += [
            Intent(goal="chat", task_type="chat", memory_query="x"),
            say("ok"),
            fail(ModelError("down")),
        ]
    model = ScriptedModel(script)
    agent = Assistant(model=model, embedder="hash")
    session = agent.session("ada", "s1")
    session.send("I prefer Python for scripting")
    for _ in range(MAX_ATTEMPTS):
        session.send("still there?")
    model.assert_consumed()
    [job] = agent.memory.jobs.all("ada")
    assert job.status == "failed" and job.attempts == MAX_ATTEMPTS and "down" in job.error
    assert agent.memory.long_term.active("ada") == []
    agent.close()
