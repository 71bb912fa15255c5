"""Event time: what a turn teaches is written as of when its words were said (`said_at`), through
the durable memory job (also one replayed by a later process), and a time-limited memory is valid
for its days from then; what its words say of time ("last Tuesday") is resolved against then; and
recall as of a past time answers what was known then (bitemporal: written by then, not yet
superseded or expired; what was forgotten never comes back). ScriptedModel for the model; a real
store (SQLite, and PostgreSQL where marked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlmodel import Session, select

from agents.assistant import Assistant
from framework.cli import main
from framework.config import load_settings
from framework.errors import InvalidInput, ModelError
from framework.llm.testing import ScriptedModel, fail, say
from framework.memory.governance import Extraction, ForgetRequest, MemoryCandidate
from framework.memory.jobs import exchange_of, exchange_payload
from framework.memory.longterm import MemoryEntry, MemoryType
from framework.memory.longterm.records import MemoryJob, stamp
from framework.memory.manager import MemoryManager
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


# --- what a memory's words say of time, resolved when it is written ---------------------------


def test_a_relative_expression_is_resolved_against_when_it_was_said(home: Path) -> None:
    said = "Ada adopted a cat named Miso last Tuesday"
    candidate = MemoryCandidate(content=said, memory_type=MemoryType.fact, confidence=0.9, tags=["pets"])
    model = ScriptedModel([say("Lovely."), remembering(), Extraction(memories=[candidate])])
    agent = Assistant(model=model, embedder="hash")
    agent.session("ada", "s1").send("Last tues I adopted a cat named Miso", said_at=SAID)  # a Monday
    agent.session("ada", "s1").flush()
    [memory] = agent.memory.long_term.all_entries("ada")
    assert memory.content == said  # the words are left as they were
    assert memory.tags == ["pets", "when:2023-05-02"]
    agent.close()


# --- recall as of a past time: what did we know then --------------------------------------------

T1 = datetime(2023, 5, 1, 10, tzinfo=UTC)
T2 = datetime(2023, 5, 20, 10, tzinfo=UTC)
T3 = datetime(2023, 6, 10, 10, tzinfo=UTC)
PARIS, LISBON = "Ada lives in Paris", "Ada lives in Lisbon"


def told(agent: Assistant, model: ScriptedModel, text: str, when: datetime, extraction: Extraction) -> None:
    """A turn said at `when` whose extraction is `extraction`."""
    model.extend([say("Noted."), remembering(), extraction])
    agent.session("ada", "s1").send(text, said_at=when)
    agent.session("ada", "s1").flush()


def fact(content: str, **fields: Any) -> Extraction:
    """An extraction of one memory (a fact unless `fields` say otherwise)."""
    return Extraction(
        memories=[
            MemoryCandidate(**{"memory_type": MemoryType.fact} | fields, content=content, confidence=0.9)
        ]
    )


def recalled(agent: Assistant, query: str, as_of: datetime | None) -> list[str]:
    found = agent.memory.recall("ada", query, as_of=as_of)
    return [r.memory.content for r in found.relevant] + [m.content for m in found.preferences]


@pytest.mark.both_backends
def test_as_of_before_a_supersede_recalls_the_old_memory_and_after_it_the_new(home: Path) -> None:
    agent = Assistant(model=(model := ScriptedModel()), embedder="hash")
    told(agent, model, "I live in Paris", T1, fact(PARIS))
    [paris] = agent.memory.long_term.all_entries("ada")
    told(agent, model, "I moved to Lisbon", T2, fact(LISBON, relation="contradicts", target=paris.id))
    assert [m.content for m in agent.memory.long_term.active("ada")] == [LISBON]
    between = agent.memory.recall("ada", "where does Ada live", as_of=T2 - timedelta(days=1))
    assert [r.memory.content for r in between.relevant] == [PARIS]
    assert any(why.startswith("written after 2023-05-19") for why in between.dropped.values())
    assert recalled(agent, "where does Ada live", T2 + timedelta(days=1)) == [LISBON]
    assert recalled(agent, "where does Ada live", None) == [LISBON]
    assert recalled(agent, "where does Ada live", T1 - timedelta(days=1)) == []  # nothing known yet
    agent.close()


@pytest.mark.both_backends
def test_what_was_forgotten_is_never_recalled_as_of_any_time(home: Path) -> None:
    agent = Assistant(model=(model := ScriptedModel()), embedder="hash")
    told(agent, model, "I love jazz", T1, fact("Ada loves jazz", memory_type=MemoryType.preference))
    [jazz] = agent.memory.long_term.all_entries("ada")
    assert jazz.id is not None
    assert recalled(agent, "what music does Ada love", T2 - timedelta(days=1)) == ["Ada loves jazz"]
    model.extend(
        [
            say("Forgotten."),
            Intent(goal="forget", memory_query="jazz", forget=True),
            Extraction(forget=[ForgetRequest(memory_id=jazz.id, reason="asked")]),
        ]
    )
    turn = agent.session("ada", "s1").send("Forget that I love jazz", said_at=T2)  # shown: may be named
    assert [op.kind for op in turn.memory_ops] == ["forget"]
    assert agent.memory.long_term.active("ada") == []
    for when in (T2 - timedelta(days=1), T2 + timedelta(days=1), None):  # forgetting is for good
        assert recalled(agent, "what music does Ada love", when) == []
    agent.close()


@pytest.mark.both_backends
def test_as_of_reads_supersedes_made_before_event_time_was_kept(home: Path, raw_sql: Any) -> None:
    """A supersede whose audit row has no said_at (as stores written before have) ended the old
    memory when it was audited; with no audit row at all, when its successor was written."""
    m = MemoryManager(load_settings(home, embedder="hash"))
    old = m.remember("ada", PARIS, "fact").memory_id
    lt = m.long_term
    vector = m.embedder.embed([LISBON])[0]
    new = lt.supersede(
        "ada", old, MemoryEntry(user_id="ada", content=LISBON), vector, actor="user", reason="moved"
    )  # type: ignore[arg-type]
    raw_sql("UPDATE memory SET created_at = ? WHERE id = ?", stamp(T1), old)
    raw_sql("UPDATE memory SET created_at = ? WHERE id = ?", stamp(T3), new.id)
    raw_sql("UPDATE audit SET at = ? WHERE operation = 'supersede' AND memory_id = ?", stamp(T2), old)
    assert recalled_by(m, T2 - timedelta(days=1)) == [PARIS]
    assert recalled_by(m, T2 + timedelta(days=1)) == []  # Paris ended at T2; Lisbon said at T3
    raw_sql("DELETE FROM audit WHERE operation = 'supersede' AND memory_id = ?", old)
    assert recalled_by(m, T2 + timedelta(days=1)) == [PARIS]  # ended when Lisbon was written
    assert recalled_by(m, T3 + timedelta(days=1)) == [LISBON]
    m.close()


def recalled_by(m: MemoryManager, as_of: datetime) -> list[str]:
    return [r.memory.content for r in m.recall("ada", "where does Ada live", as_of=as_of).relevant]


def test_as_of_expiry_counts_from_valid_until(home: Path) -> None:
    agent = Assistant(model=(model := ScriptedModel()), embedder="hash")
    told(agent, model, "I'm in Rome this week", T1, fact("Ada is visiting Rome", valid_for_days=7))
    assert recalled(agent, "where is Ada visiting", T1 + timedelta(days=3)) == ["Ada is visiting Rome"]
    assert recalled(agent, "where is Ada visiting", T1 + timedelta(days=8)) == []
    agent.close()


def test_a_bad_as_of_is_refused_naming_it(home: Path) -> None:
    m = MemoryManager(load_settings(home, embedder="hash"))
    with pytest.raises(InvalidInput, match=r"as_of=\): expected a datetime"):
        m.recall("ada", "anything", as_of="2023-05-08")  # type: ignore[arg-type]
    m.close()


def test_the_cli_recalls_as_of_a_date_or_a_datetime(home: Path) -> None:
    agent = Assistant(model=(model := ScriptedModel()), embedder="hash")
    told(agent, model, "I live in Paris", T1, fact(PARIS))
    [paris] = agent.memory.long_term.all_entries("ada")
    told(agent, model, "I moved to Lisbon", T2, fact(LISBON, relation="contradicts", target=paris.id))
    agent.close()
    runner = CliRunner()

    def recall(*args: str) -> Result:
        return runner.invoke(main, ["memory", "recall", "where does Ada live", "--user", "ada", *args])

    then = recall("--as-of", "2023-05-19")
    assert then.exit_code == 0, then.output
    assert PARIS in then.output and "1. " in then.output and LISBON not in then.output.split("dropped")[0]
    assert "written after" in then.output
    on_the_day = recall("--as-of", "2023-05-20")  # a date: all of that day
    assert (
        LISBON in on_the_day.output.split("dropped")[0] and PARIS not in on_the_day.output.split("dropped")[0]
    )
    assert PARIS in recall("--as-of", "2023-05-20T09:00:00Z").output.split("dropped")[0]
    assert LISBON in recall("--as-of", "2023-05-20T12:00:00+02:00").output.split("dropped")[0]
    bad = recall("--as-of", "last week")
    assert bad.exit_code == 2 and "--as-of" in bad.output and "not a date or an ISO datetime" in bad.output


def test_a_queued_job_without_said_at_is_applied_as_of_now(home: Path) -> None:
    """A job an older version queued (its payload has no said_at) is applied by a later process:
    its memories are written now."""
    model = ScriptedModel([say("Lovely."), remembering(), fail(ModelError("provider down"))])
    agent = Assistant(model=model, embedder="hash")
    agent.session("ada", "s1").send("I adopted a cat named Miso", said_at=SAID)
    with Session(agent.memory.engine) as s:
        job = s.exec(select(MemoryJob)).one()
        job.payload = {k: v for k, v in job.payload.items() if k != "said_at"}
        s.add(job)
        s.commit()
    agent.close()
    agent = Assistant(
        model=ScriptedModel(
            [say("Hi."), extraction(), Intent(goal="ask", task_type="question", memory_query="x")]
        ),
        embedder="hash",
    )
    before = datetime.now(UTC)
    agent.session("ada", "s2").send("hello again")
    agent.session("ada", "s2").flush()
    created, _ = stored(agent)
    assert created >= before - timedelta(seconds=1)
    agent.close()
