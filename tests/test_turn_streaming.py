"""A turn streams, and its memory work comes after the answer without being lost.

Events (framework.events) come as the turn runs: the answer's words before the turn finishes,
tool calls with the gate's verdict, approvals before the approver is asked. The memory work is
queued in the store when the answer is given and applied by the background worker: `send` returns
first, `turn.memory_ops` waits for it, the user's next turn sees it, one user's jobs apply in
order, and a process killed between the answer and its memory work loses nothing (the next start
applies it). Native async: 100 sessions in one event loop against a real HTTP model server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer, RecordedRequest, Reply

from agents.assistant import Assistant
from agents.devops import DevOps
from framework.events import (
    ApprovalNeeded,
    MemoryApplied,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from framework.gate import ApprovalRequest
from framework.llm import LiteLLMModel
from framework.llm.testing import Computed, ScriptedModel, ScriptedRequest, call, say
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.longterm import MemoryType
from framework.steps.intent import Intent

ROOT = Path(__file__).resolve().parents[1]
TEA = "The user prefers tea over coffee"


def remembering() -> Intent:
    return Intent(goal="share", memory_query="drinks", remember=True)


def keeps(content: str) -> Extraction:
    return Extraction(
        memories=[MemoryCandidate(content=content, memory_type=MemoryType.preference, confidence=0.95)]
    )


def held_until(gate: threading.Event, reply: Extraction) -> Computed:
    """An extraction reply that waits for `gate`: the memory work is provably still running."""

    def wait(_request: ScriptedRequest) -> Extraction:
        assert gate.wait(30), "the test never opened the gate"
        return reply

    return Computed(wait, "structured")


# --- the background worker ----------------------------------------------------------------------
@pytest.mark.background_memory
def test_send_returns_before_the_memory_work_and_memory_ops_wait_for_it(home: Path) -> None:
    gate = threading.Event()
    model = ScriptedModel([say("Noted."), remembering(), held_until(gate, keeps(TEA))])
    agent = Assistant(model=model, embedder="hash")
    try:
        turn = agent.session("ada", "s1").send("I prefer tea over coffee")
        assert turn.answer == "Noted." and turn.memory_job is not None
        assert turn.memory_applied(timeout=0) is False  # the answer came back; memory still working
        assert agent.memory.long_term.active("ada") == []
        gate.set()
        assert [(op.kind, op.content) for op in turn.memory_ops] == [("write", TEA)]  # waits for it
        assert turn.intent is not None and turn.intent.remember
        assert [m.content for m in agent.memory.long_term.active("ada")] == [TEA]
        assert [j.status for j in agent.memory.jobs.all("ada")] == ["done"]
        model.assert_consumed()
    finally:
        gate.set()
        agent.close()


@pytest.mark.background_memory
def test_the_next_turn_of_the_user_sees_what_the_previous_turn_taught(home: Path) -> None:
    gate = threading.Event()
    model = ScriptedModel([say("Noted."), remembering(), held_until(gate, keeps(TEA))])
    agent = Assistant(model=model, embedder="hash")
    try:
        session = agent.session("ada", "s1")
        session.send("I prefer tea over coffee")
        threading.Timer(0.2, gate.set).start()  # the work finishes while the next turn waits for it
        model.extend([say("Tea."), Intent(goal="ask", task_type="question", memory_query="drinks")])
        turn = session.send("what do I drink?")
        recalled = [m.content for m in turn.recollection.preferences] if turn.recollection else []
        assert recalled == [TEA]
        assert TEA in (model.requests[3].messages[0].content or "")  # in the answer's prompt
        session.flush()
        model.assert_consumed()
    finally:
        gate.set()
        agent.close()


@pytest.mark.background_memory
def test_one_users_memory_work_applies_in_the_order_of_the_turns(home: Path) -> None:
    facts = [f"The user's project number {n} is called p{n}" for n in range(4)]
    model = ScriptedModel()
    agent = Assistant(model=model, embedder="hash")
    try:
        session = agent.session("ada", "s1")
        for fact in facts:
            model.extend([say("ok"), Intent(goal="share", memory_query="projects", remember=True)])
            model.extend(
                [
                    Extraction(
                        memories=[MemoryCandidate(content=fact, memory_type=MemoryType.fact, confidence=0.9)]
                    )
                ]
            )
        turns = [session.send(f"remember: {fact}") for fact in facts]
        assert session.flush(timeout=30)
        writes = [a for a in agent.memory.long_term.history("ada") if a.operation == "write"]
        assert [agent.memory.long_term.get("ada", a.memory_id).content for a in writes] == facts  # type: ignore[union-attr]
        assert [t.memory_job for t in turns] == sorted(t.memory_job for t in turns)  # type: ignore[type-var]
        assert all(t.ops("write") for t in turns)
    finally:
        agent.close()


_KILLED = """
import sys, time
from agents.assistant import Assistant
from framework.llm.testing import Computed, ScriptedModel, say
from framework.steps.intent import Intent

def never(request):  # the extraction call hangs: the process dies with its memory work undone
    time.sleep(600)

model = ScriptedModel([say("Noted."), Intent(goal="share", memory_query="drinks", remember=True),
                       Computed(never, "structured")])
agent = Assistant(model=model, embedder="hash")
turn = agent.session("ada", "s1").send("I prefer tea over coffee")
print("ANSWERED", turn.answer, flush=True)
time.sleep(600)
"""


def test_a_process_killed_between_the_answer_and_its_memory_work_loses_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "FRAMEWORK_HOME": str(home), "FRAMEWORK_MEMORY_WORK": "background"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-c", _KILLED], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ANSWERED Noted."), line
        deadline = time.monotonic() + 30  # its worker has claimed the job and is in the extraction
        while time.monotonic() < deadline:
            statuses = _job_statuses(home)
            if statuses == ["running"]:
                break
            time.sleep(0.05)
        assert _job_statuses(home) == ["running"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # the next start finds the job its dead worker held and applies it from the store
    monkeypatch.setenv("FRAMEWORK_MEMORY_WORK", "background")
    model = ScriptedModel([remembering(), keeps(TEA)])
    agent = Assistant(model=model, embedder="hash")
    try:
        assert agent.memory.flush(timeout=30)
        assert [m.content for m in agent.memory.long_term.active("ada")] == [TEA]
        assert [j.status for j in agent.memory.jobs.all("ada")] == ["done"]
        model.assert_consumed()
        extraction = model.requests[1].text
        assert "I prefer tea over coffee" in extraction  # the stored (redacted) exchange was replayed
    finally:
        agent.close()


def _job_statuses(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "memory.db") as con:
        return [row[0] for row in con.execute("SELECT status FROM memory_job ORDER BY id")]


# --- events ---------------------------------------------------------------------------------------
def test_a_turn_streams_its_words_and_its_tool_calls_before_it_finishes(home: Path) -> None:
    model = ScriptedModel(
        [
            call("deploy_to_staging", version="1.0"),
            say("Version 1.0 is on staging now."),
            Intent(goal="stage", task_type="deploy"),
        ]
    )
    agent = DevOps(model=model, embedder="hash")
    try:
        events = list(agent.session("ops").stream("stage 1.0", wait_memory=True))
    finally:
        agent.close()
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["ToolCallStarted", "ToolCallFinished"]
    started, finished = events[0], events[1]
    assert isinstance(started, ToolCallStarted) and started.arguments == {"version": "1.0"}
    assert (
        isinstance(finished, ToolCallFinished) and finished.record.verdict == "allow" and finished.record.ok
    )
    words = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(words) > 1 and "".join(words) == "Version 1.0 is on staging now."
    assert kinds[-3:] == ["MemoryQueued", "TurnFinished", "MemoryApplied"]
    assert kinds.index("TextDelta") < kinds.index("TurnFinished")
    done = events[-2]
    assert isinstance(done, TurnFinished) and done.turn.answer == "Version 1.0 is on staging now."
    assert isinstance(events[-1], MemoryApplied) and events[-1].error is None


def test_the_approval_event_comes_before_the_human_is_asked(home: Path) -> None:
    seen: list[Any] = []

    def approver(request: ApprovalRequest) -> bool:
        seen.append(("asked", request.tool))
        return False

    model = ScriptedModel(
        [call("run_shell", command="rm -rf /var/data"), say("Not run."), Intent(goal="clean")]
    )
    model.extend([Extraction()])  # a refused call fails the turn: worth an extraction
    agent = DevOps(model=model, embedder="hash", approve=approver)
    try:
        for event in agent.session("ops").stream("free some disk"):
            if isinstance(event, ApprovalNeeded):
                seen.append(("event", event.request.tool))
            if isinstance(event, ToolCallFinished):
                seen.append(("finished", event.record.approved))
        model.assert_consumed()
    finally:
        agent.close()
    assert seen == [("event", "run_shell"), ("asked", "run_shell"), ("finished", False)]


def test_closing_the_stream_cancels_the_turn_and_keeps_what_ran(home: Path) -> None:
    model = ScriptedModel(
        [call("deploy_to_staging", version="2.0"), say("Staged 2.0, and now the long tail.")]
    )
    agent = DevOps(model=model, embedder="hash")
    try:
        session = agent.session("ops", "s1")
        stream = session.stream("stage 2.0")
        for event in stream:
            if isinstance(event, TextDelta):
                break  # the user pressed Ctrl-C while the answer streamed
        stream.close()
        state = agent.memory.load_state("ops", "s1")
        assert [t.name for t in state.tool_history] == ["deploy_to_staging"]  # the gate's history
        assert state.conversation == [] and agent.memory.jobs.all("ops") == []  # nothing queued
        model.extend([say("Still here."), Intent(goal="check", task_type="question")])
        assert session.send("are you there?").answer == "Still here."  # the session goes on
    finally:
        agent.close()


# --- over HTTP: one round trip before the first word; native async -----------------------------------
def _responder(request: RecordedRequest) -> Reply:
    """A model server that answers every call the runtime makes: structured calls (instructor's
    tool mode) with a valid instance, everything else with text."""
    body = request.body if isinstance(request.body, dict) else {}
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        said = str(body["messages"][-1]["content"])
        if name == "Intent":
            return Reply.tool_call({"goal": "share", "memory_query": said, "remember": "prefer" in said})
        if name == "Extraction":
            user = said.split("User: ", 1)[-1].split("\n", 1)[0] if "User: " in said else said
            fact = {
                "content": f"The user said: {user.strip()[:80]}",
                "memory_type": "fact",
                "confidence": 0.9,
            }
            return Reply.tool_call({"memories": [fact]})
        return Reply.tool_call({})
    return Reply.text_reply("Noted, thank you.", ttfb_s=0.05, token_interval_s=0.01)


@pytest.fixture
def server() -> Any:
    with FakeLLMServer() as fake:
        fake.responder = _responder
        yield fake


def _model(server: FakeLLMServer) -> LiteLLMModel:
    return LiteLLMModel("openai/fake", api_base=server.url, api_key="sk-fake", deadline_s=20, timeout_s=10)


def test_the_answer_request_is_the_first_and_its_words_come_before_any_memory_call(
    home: Path, server: FakeLLMServer
) -> None:
    agent = Assistant(model=_model(server), embedder="hash")
    try:
        first_word_at = None
        for event in agent.session("ada").stream("I prefer tea over coffee"):
            if isinstance(event, TextDelta) and first_word_at is None:
                first_word_at = time.monotonic()
        assert agent.memory.flush(timeout=30)
    finally:
        agent.close()
    answer, *after = server.requests
    assert answer.stream and answer.messages[-1]["content"] == "I prefer tea over coffee"
    assert [json.dumps(r.body.get("tool_choice")) for r in after]  # the intent, then the extraction
    assert first_word_at is not None and all(r.received_at > first_word_at for r in after)


@pytest.mark.background_memory
def test_a_hundred_sessions_run_concurrently_in_one_event_loop(home: Path, server: FakeLLMServer) -> None:
    agent = Assistant(model=_model(server), embedder="hash")
    threads: list[int] = []

    async def one(n: int) -> str:
        turn = await agent.session(f"user-{n:03d}").asend(f"I prefer tea number {n}")
        # the framework's threads and its libraries' bounded pools (anyio's DNS workers, at most
        # 40; asyncio's executor; the memory worker's 4), not the test server's per-request ones
        ours = [t for t in threading.enumerate() if "process_request_thread" not in t.name]
        threads.append(len(ours))
        return turn.answer

    async def main() -> list[str]:
        return await asyncio.gather(*(one(n) for n in range(100)))

    try:
        before = len([t for t in threading.enumerate() if "process_request_thread" not in t.name])
        answers = asyncio.run(main())
        assert answers == ["Noted, thank you."] * 100
        # 100 turns at once, and no thread per turn: what was added is bounded pools (anyio's 40,
        # asyncio's executor, the memory worker's 4, litellm's logging), not one per session
        assert max(threads) - before < 60, (before, max(threads))
        assert agent.memory.flush(timeout=60)
        for n in range(0, 100, 9):  # each user's memory holds their own words only
            contents = [m.content for m in agent.memory.long_term.active(f"user-{n:03d}")]
            assert contents == [f"The user said: I prefer tea number {n}"], contents
    finally:
        agent.close()
