"""What the extraction call returns: candidate memories and forget requests (LLM output,
validated with pydantic)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from framework.memory.records import MemorySource, MemoryType


class MemoryCandidate(BaseModel):
    content: str = Field(
        description="a standalone statement: who and what, no pronouns that need the conversation"
    )
    memory_type: MemoryType = Field(description="fact, preference, outcome or constraint")
    confidence: float = Field(ge=0.0, le=1.0, description="how sure this is true and lasting")
    source: MemorySource = Field(
        MemorySource.explicit, description="explicit (user said it), inferred or learned"
    )
    tags: list[str] = Field(default_factory=list)
    valid_for_days: float | None = Field(None, description="for time-bound facts: how long it stays true")
    replaces: int | None = Field(None, description="id of a listed memory this one corrects or updates")


class ForgetRequest(BaseModel):
    memory_id: int = Field(description="id of a listed memory the user wants forgotten")
    reason: str = Field(description="why, in the user's words")


class Extraction(BaseModel):
    memories: list[MemoryCandidate] = Field(default_factory=list)
    forget: list[ForgetRequest] = Field(default_factory=list)
