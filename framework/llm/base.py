"""The one protocol every model adapter implements."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from framework.llm.messages import Completion, Message, Structured

M = TypeVar("M", bound=BaseModel)


class Model(Protocol):
    """An LLM: free-form completion with tools, and validated structured output."""

    name: str

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion: ...

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]: ...
