"""Event time: what a turn teaches is written as of when its words were said (`said_at`), through
the durable memory job (also one replayed by a later process), and a time-limited memory is valid
for its days from then. ScriptedModel for the model; a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.assistant import Assistant
from framework.errors import InvalidInput, ModelError
from framework.llm.testing import ScriptedModel, fail, say
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.jobs import exchange_of, exchange_payload
from framework.memory.longterm import MemoryType
from framework.outcome import Exchange, Outcome
from framework.steps.intent import Intent

SAID = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
FACT = "Ada adopted a cat named Miso"


def remembering() -> Intent:
    return Intent(goal="share", memory_query="cat", remember=True)


def extraction(valid_for_days: float | None = None) -> Extraction:
    return Extraction(
        memories=[
            MemoryCandidate(
                content=FACT, memory_type=MemoryType.fact, confidence=0.9, valid_for_days=valid_for_days
            )
        ]
    )


def stored(agent: Assistant) -> tuple[datetime, datetime | None]:
    [memory] = agent.memory.long_term.all_entries("ada")
    assert memory.content == FACT
    created = memory.created_at if memory.created_at.tzinfo else memory.created_at.replace(tzinfo=UTC)
    until = memory.valid_until
    return created, (until if until is None or until.tzinfo else until.replace(tzinfo=UTC))


def test_a_turns_memories_are_written_as_of_when_it_was_said(home: Path) -> None:
    model = ScriptedModel([say("Lovely."), remembering(), extraction(valid_for_days=400)])
    agent = Assistant(model=model, embedder="hash")
    turn = agent.session("ada", "s1").send("Yesterday I adopted a cat named Miso", said_at=SAID)
    assert [op.kind for op in turn.memory_ops] == ["write"]
    created, until = stored(agent)
    assert created == SAID
    assert until == SAID + timedelta(days=400)  # valid for its days from when it was said:
    assert agent.memory.long_term.active("ada") == []  # so no longer valid now
    agent.close()


def test_without_said_at_a_memory_is_written_now(home: Path) -> None:
    model = ScriptedModel([say("Lovely."), remembering(), extraction()])
    agent = Assistant(model=model, embedder="hash")
    before = datetime.now(UTC)
    agent.session("ada", "s1").send("I adopted a cat named Miso")
    agent.session("ada", "s1").flush()
    created, _ = stored(agent)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    agent.close()


def test_the_time_survives_the_durable_job_and_a_replay_in_a_later_process(home: Path) -> None:
    model = ScriptedModel([say("Lovely."), remembering(), fail(ModelError("provider down"))])
    agent = Assistant(model=model, embedder="hash")
    agent.session("ada", "s1").send("Yesterday I adopted a cat named Miso", said_at=SAID)
    [job] = agent.memory.jobs.all("ada")
    assert job.payload["said_at"] == SAID.isoformat()
    agent.close()
    model = ScriptedModel(
        [say("Hi."), extraction(), Intent(goal="ask", task_type="question", memory_query="x")]
    )
    agent = Assistant(model=model, embedder="hash")
    agent.session("ada", "s2").send("hello again")
    agent.session("ada", "s2").flush()
    created, _ = stored(agent)
    assert created == SAID
    agent.close()


def test_a_job_stored_before_event_time_was_kept_still_loads() -> None:
    exchange = Exchange("I adopted a cat", "Lovely.", [], Outcome("none", "nothing attempted"))
    payload = exchange_payload(exchange, [3])
    del payload["said_at"]  # as an older version stored it
    again, shown = exchange_of(payload)
    assert again.said_at is None and shown == [3] and again.user_input == "I adopted a cat"
    dated = exchange_of(exchange_payload(Exchange("x", "y", [], exchange.outcome, said_at=SAID), []))[0]
    assert dated.said_at == SAID


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("2023-05-08", "expected a datetime"),
        (datetime.now(UTC) + timedelta(days=2), "in the future"),
    ],
)
def test_a_bad_said_at_is_refused_naming_it(home: Path, bad: object, message: str) -> None:
    agent = Assistant(model=ScriptedModel(), embedder="hash")
    with pytest.raises(InvalidInput, match=rf"said_at=\): .*{message}"):
        agent.session("ada", "s1").send("hello", said_at=bad)  # type: ignore[arg-type]
    agent.close()


def test_a_naive_said_at_is_taken_as_utc(home: Path) -> None:
    model = ScriptedModel([say("Lovely."), remembering(), extraction()])
    agent = Assistant(model=model, embedder="hash")
    agent.session("ada", "s1").send("I adopted a cat named Miso", said_at=SAID.replace(tzinfo=None))
    agent.session("ada", "s1").flush()
    assert stored(agent)[0] == SAID
    agent.close()
