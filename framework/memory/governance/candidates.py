"""What the memory-op calls return (LLM output, validated with pydantic): candidate memories,
forget requests, and pairwise judgments of a candidate against an existing memory."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from framework.memory.longterm.records import MemorySource, MemoryType

Relation = Literal["new", "duplicate", "refines", "contradicts"]


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
    valid_for_days: float | None = Field(
        None, description="for time-bound facts: how many days it stays true"
    )
    relation: Relation = Field(
        "new",
        description="new; or, about the listed memory `target`: duplicate (says the same), "
        "refines (corrects or adds to it; content is the merged statement), contradicts",
    )
    target: int | None = Field(None, description="id of the listed memory the relation is about")
    origin: Literal["user", "tool", "assistant"] = Field(
        "user",
        description="whose words these are: user (the user said it in this turn), tool (a tool's "
        "result or error said it), assistant (only the assistant said it)",
    )


class ForgetRequest(BaseModel):
    memory_id: int = Field(description="id of a listed memory the user wants forgotten")
    reason: str = Field(description="why, in the user's words")


# Lists are bounded: a schema with maxItems lets grammar-constrained servers close the list, and
# no turn has more to say than this.
class Extraction(BaseModel):
    memories: list[MemoryCandidate] = Field(default_factory=list, max_length=8)
    forget: list[ForgetRequest] = Field(default_factory=list, max_length=8)


class PairVerdict(BaseModel):
    candidate: int = Field(description="the candidate's number in the list")
    memory_id: int = Field(description="the existing memory's id")
    relation: Literal["duplicate", "refines", "contradicts", "unrelated"]
    merged: str | None = Field(None, description="for refines: one statement combining both")


class Comparison(BaseModel):
    verdicts: list[PairVerdict] = Field(default_factory=list, max_length=15)  # 5 candidates x 3 pairs
