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


class ContextWindow:
    def __init__(self, budget_tokens: int, counter: TokenCounter) -> None:
        self.budget = budget_tokens
        self.counter = counter

    def fit(self, system: Message, history: list[Message], current: list[Message]) -> Window:
        """Keep system and the current turn whole; fill the rest with the newest history."""
        used = self.counter.count_message(system) + sum(self.counter.count_message(m) for m in current)
        kept: list[Message] = []
        for message in reversed(history):
            cost = self.counter.count_message(message)
            if used + cost > self.budget:
                break
            kept.append(message)
            used += cost
        kept.reverse()
        return Window([system, *kept, *current], used, self.budget, len(history) - len(kept))
