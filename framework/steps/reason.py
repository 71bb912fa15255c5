"""Step 3: assemble the prompt under the context budget and ask the model what to do next."""

from __future__ import annotations

from framework.llm.messages import Message
from framework.memory.context import ContextWindow, Window
from framework.prompts import render
from framework.turn import Recollection


def system_prompt(instructions: str, memory: Recollection) -> Message:
    return Message(
        "system",
        render(
            "system",
            instructions=instructions,
            policies=memory.policies,
            skills=memory.skills,
            constraints=memory.constraints,
            preferences=memory.preferences,
            relevant=memory.relevant,
            done=memory.state.tool_history,
        ),
    )


def build_prompt(
    window: ContextWindow, system: Message, history: list[Message], current: list[Message]
) -> Window:
    """`current` is this turn so far: the user's message, then tool calls and their results."""
    return window.fit(system, history, current)
