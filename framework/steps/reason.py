"""Step 3: assemble the prompt under the context budget and ask the model what to do next."""

from __future__ import annotations

from framework.llm.messages import Message
from framework.memory.context import ContextWindow, Window
from framework.memory.recollection import Recollection
from framework.memory.working import WorkingState
from framework.prompts import render


def system_prompt(
    instructions: str, memory: Recollection, state: WorkingState, window: ContextWindow
) -> Message:
    """Instructions, policies and skills whole; recalled memories and the working state within
    their shares of the budget (what is left out is said in the recollection's warnings)."""
    constraints, preferences, relevant = memory.constraints, memory.preferences, memory.relevant
    texts = [m.content for m in constraints + preferences] + [r.memory.content for r in relevant]
    fits = window.within(texts, window.budget.memories)
    if fits < len(texts):  # constraints first, then preferences, then the best-ranked relevant
        left_out = len(texts) - fits
        warning = f"{left_out} recalled memories left out of the prompt: over the memory budget"
        if warning not in memory.warnings:  # the prompt is rebuilt after a fold: say it once
            memory.warnings.append(warning)
        constraints = constraints[:fits]
        preferences = preferences[: max(0, fits - len(constraints))]
        relevant = relevant[: max(0, fits - len(constraints) - len(preferences))]
    return Message(
        "system",
        render(
            "system",
            instructions=instructions,
            policies=memory.policies,
            skills=memory.skills,
            constraints=constraints,
            preferences=preferences,
            relevant=relevant,
            done=state.tool_history[
                -20:
            ],  # the gate checks the whole history; the model needs the recent part
            summary=state.summary,
        ),
    )


def conversation(state: WorkingState) -> list[Message]:
    return [Message(line.role, line.content) for line in state.conversation]


def build_prompt(
    window: ContextWindow, system: Message, history: list[Message], current: list[Message]
) -> Window:
    """`current` is this turn so far: the user's message, then tool calls and their results."""
    return window.fit(system, history, current)
