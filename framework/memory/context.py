"""L1 context window: assembles the messages for one model call under a token budget.

System text (instructions, policies, recalled memory) is never evicted; the oldest conversation
lines go first, and how many were evicted is reported. Tokens are counted with tiktoken from the
encodings litellm ships, so counting works offline.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from framework.llm.messages import Message


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("litellm")
        if spec and spec.submodule_search_locations:
            bundled = Path(list(spec.submodule_search_locations)[0]) / "litellm_core_utils" / "tokenizers"
            if bundled.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    import tiktoken

    return tiktoken.get_encoding(name)


def encoding_for(model: str | None) -> str:
    name = (model or "").lower()
    return (
        "o200k_base"
        if any(t in name for t in ("gpt-4o", "gpt-4.1", "o1", "o3", "o4", "gpt-5"))
        else "cl100k_base"
    )


@lru_cache(maxsize=8192)
def _count(encoding: str, text: str) -> int:
    # Cached: the same history lines are counted again on every call of every turn.
    return len(_encoding(encoding).encode(text, disallowed_special=()))


class TokenCounter:
    def __init__(self, model: str | None = None) -> None:
        self.encoding_name = encoding_for(model)

    def count(self, text: str) -> int:
        return _count(self.encoding_name, text)

    def count_message(self, message: Message) -> int:
        n = 4 + self.count(message.content or "")
        for call in message.tool_calls:
            n += self.count(call.name) + self.count(str(call.arguments))
        return n


@dataclass
class Window:
    messages: list[Message]
    tokens: int
    budget: int
    evicted: int


@dataclass(frozen=True)
class Budget:
    """How the window is shared. System text and policies are never cut; recalled memories and
    the working state get at most their share; the conversation gets what is left, and its
    oldest lines are folded into the rolling summary when it runs over."""

    total: int
    memory_share: float = 0.3
    state_share: float = 0.1

    @property
    def memories(self) -> int:
        return int(self.total * self.memory_share)

    @property
    def state(self) -> int:
        return int(self.total * self.state_share)


class ContextWindow:
    def __init__(self, budget: Budget | int, counter: TokenCounter) -> None:
        self.budget = budget if isinstance(budget, Budget) else Budget(budget)
        self.counter = counter

    def tokens(self, messages: list[Message]) -> int:
        return sum(self.counter.count_message(m) for m in messages)

    def within(self, texts: list[str], budget: int) -> int:
        """How many of `texts`, taken in order, fit in `budget` tokens."""
        used = 0
        for n, text in enumerate(texts):
            used += self.counter.count(text) + 2
            if used > budget:
                return n
        return len(texts)

    def to_fold(self, system: Message, history: list[Message], current: list[Message], max_lines: int) -> int:
        """How many of the oldest history lines to fold into the summary now: none while the
        conversation fits; when it does not (or nears the line cap), enough to leave it at half
        its share, so a summary call is made once in a while, not every turn."""
        room = self.budget.total - self.counter.count_message(system) - self.tokens(current)
        if self.tokens(history) <= room and len(history) < max_lines - 2:
            return 0
        keep, used = 0, 0
        for message in reversed(history):
            used += self.counter.count_message(message)
            if used > room // 2 or keep >= max_lines // 2:
                break
            keep += 1
        fold = len(history) - keep
        return fold + (fold % 2)  # whole exchanges: a user line and its answer go together

    def fit(self, system: Message, history: list[Message], current: list[Message]) -> Window:
        """Keep system and the current turn whole; fill the rest with the newest history."""
        used = self.counter.count_message(system) + self.tokens(current)
        kept: list[Message] = []
        for message in reversed(history):
            cost = self.counter.count_message(message)
            if used + cost > self.budget.total:
                break
            kept.append(message)
            used += cost
        kept.reverse()
        return Window([system, *kept, *current], used, self.budget.total, len(history) - len(kept))
