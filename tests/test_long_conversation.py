"""L1 context window: a long conversation through a small budget keeps what matters by folding
the oldest lines into a rolling summary kept in working memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from agents.assistant import Assistant
from framework import Agent
from framework.llm.testing import FunctionModel, Reply, ScriptedModel, ScriptedRequest, say
from framework.memory.governance.candidates import Extraction
from framework.steps.intent import Intent

FACT = "Note: the release code word is PINEAPPLE-42."


def summariser_and_assistant(request: ScriptedRequest) -> Reply:
    """Stands in for the LLM: as a summariser it keeps the lines that hold facts (as a real model
    is asked to), as the assistant it answers from what its prompt contains."""
    text = request.text
    if text.startswith("You keep the running summary"):
        previous = text.split("Summary so far:\n", 1)[1].split("\n\nLines to fold in:", 1)[0]
        kept = [line for line in text.split("Lines to fold in:\n", 1)[1].splitlines() if "Note:" in line]
        return say(" ".join(part for part in [previous.replace("(none)", "").strip(), *kept] if part))
    if "code word" in (request.messages[-1].content or ""):
        return say("PINEAPPLE-42" if "PINEAPPLE-42" in text else "I don't know.")
    return say("Sure, here is another fun fact about octopuses: they have three hearts.")


def intent_only(request: ScriptedRequest) -> BaseModel:
    assert request.response_model is Intent
    return Intent(goal="chat", task_type="chat", memory_query=request.messages[-1].content or "")


def test_a_fact_from_turn_3_is_known_at_turn_200(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_CONTEXT_TOKENS", "600")
    model = FunctionModel(summariser_and_assistant, intent_only)
    lines = [f"Tell me fact number {i} about octopuses, please." for i in range(1, 200)]
    lines.insert(2, FACT)  # turn 3
    agent = Assistant(model=model, embedder="hash")
    session = agent.session("ada", "long")
    turns = [session.send(line) for line in lines]
    agent.close()

    # A new process would see the same: the summary lives in working memory.
    again = Assistant(model=model, embedder="hash")
    last = again.session("ada", "long").send("What was the release code word?")
    state = again.memory.working.load("ada", "long")
    again.close()

    assert len(turns) == 200 and all(t.error is None for t in turns)
    assert last.answer == "PINEAPPLE-42"
    sent = "\n".join(m.content or "" for m in last.messages)
    assert FACT not in [m.content for m in last.messages[1:]]  # the line itself left the window long ago
    assert "Earlier in this conversation (summary)" in sent and "PINEAPPLE-42" in sent
    assert state.folded_lines > 300 and "PINEAPPLE-42" in state.summary
    summaries = [r for r in model.requests if r.text.startswith("You keep the running summary")]
    assert 1 < len(summaries) < 100  # folded in batches, not every turn
    assert max(t.usage.calls for t in turns) <= 3  # intent, answer, and at most one summary call


def test_recalled_memories_stay_within_their_share_of_the_budget(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAMEWORK_CONTEXT_TOKENS", "400")  # memories get 30%: about 120 tokens
    agent = Agent(model=ScriptedModel(), embedder="hash")
    for i in range(40):
        agent.memory.remember("ada", f"The user prefers option number {i} for setting {i}", "preference")
    agent.close()
    model = ScriptedModel([Intent(goal="q", task_type="question"), say("ok")])
    agent = Agent(model=model, embedder="hash")
    turn = agent.session("ada").send("Which options do I prefer?")
    agent.close()
    system = turn.messages[0].content or ""
    assert system.count("The user prefers option number") < 40
    assert any("left out of the prompt: over the memory budget" in w for w in turn.recollection.warnings)
    assert len(turn.recollection.preferences) == 40  # recall itself stays complete


def test_the_budget_follows_the_model_unless_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Big(ScriptedModel):
        context_window = 128_000

    agent = Agent(model=Big(), embedder="hash")
    assert agent.runtime.window.budget.total == 128_000 - agent.settings.llm_max_tokens
    agent.close()
    monkeypatch.setenv("FRAMEWORK_CONTEXT_TOKENS", "3000")
    agent = Agent(model=Big(), embedder="hash")
    assert agent.runtime.window.budget.total == 3000
    agent.close()


def test_extraction_still_sees_a_fresh_session(home: Path) -> None:
    model = ScriptedModel([Intent(goal="share", remember=True), say("ok"), Extraction()])
    agent = Agent(model=model, embedder="hash")
    turn = agent.session("ada").send("I like tea")
    agent.close()
    model.assert_consumed()
    assert turn.memory_usage.calls == 1 and turn.warnings == []
