"""A conversation of one user with one agent. `send` runs one turn; `asend` is the same turn
for async code (run in a worker thread: one implementation, not two)."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from framework.gate import PolicyGate
from framework.llm.base import Model
from framework.loop import run_turn
from framework.memory.manager import MemoryManager
from framework.steps.act import Approver
from framework.tools import ToolSpec
from framework.turn import Turn

if TYPE_CHECKING:
    from framework.agent import Agent


class Session:
    def __init__(self, agent: Agent, user_id: str | None, session_id: str | None) -> None:
        self.agent = agent
        self.user_id = user_id
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.memory: MemoryManager = agent.memory
        self.model: Model = agent.llm
        self.tools: dict[str, ToolSpec] = agent.tool_specs
        self.schemas = [spec.schema() for spec in self.tools.values()] or None  # built once
        self.gate = PolicyGate(self.memory.procedural)  # edited policies apply from the next call
        self.approve: Approver | None = agent.approve
        self.max_steps = agent.steps_limit
        self.window = self.memory.context_window(self.model)

    def send(self, text: str) -> Turn:
        """Run one turn of the control loop and return its full record."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("send(text): text must be a non-empty string")
        return run_turn(self, text)

    async def asend(self, text: str) -> Turn:
        return await asyncio.to_thread(self.send, text)
