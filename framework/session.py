"""A conversation of one user with one agent. `send` runs one turn; `asend` is the same turn
for async code (run in a worker thread: one implementation, not two).

Input is checked here (framework.inputs), before anything is read or written, so bad input never
reaches the store, the indexes, the embedder, the tokenizer, the log or working memory. A None
user is anonymous, a None session a new one.
"""

from __future__ import annotations

import asyncio
import uuid

from framework.inputs import checked_id, checked_message
from framework.loop import Runtime, run_turn
from framework.memory.manager import MemoryManager
from framework.turn import Turn


class Session:
    """Who is talking (`user_id`; None: anonymous, nothing written long-term), in which
    conversation (`session_id`), on which agent's runtime."""

    def __init__(self, runtime: Runtime, user_id: str | None, session_id: str | None = None) -> None:
        self.runtime = runtime
        self.user_id = None if user_id is None else checked_id("user_id", user_id)
        self.session_id = (
            uuid.uuid4().hex[:12] if session_id is None else checked_id("session_id", session_id)
        )

    @property
    def memory(self) -> MemoryManager:
        return self.runtime.memory

    def send(self, text: str) -> Turn:
        """Run one turn of the control loop and return its full record."""
        text = checked_message(text, self.memory.settings.max_message_chars)
        return run_turn(self.runtime, self.user_id, self.session_id, text)

    async def asend(self, text: str) -> Turn:
        return await asyncio.to_thread(self.send, text)
