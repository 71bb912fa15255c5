"""Step 5: judge the turn's outcome, from the tool results (and optionally the model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.outcome import Outcome, ToolCallRecord
from framework.prompts import render


class OutcomeJudgment(BaseModel):
    status: Literal["success", "failure", "partial", "none"]
    summary: str = Field(description="one line")
    lesson: str | None = Field(None, description="what a failure teaches, if anything")


def evaluate(tool_calls: list[ToolCallRecord], answer: str, error: str | None) -> Outcome:
    # A call that was denied or failed, then retried successfully later in the turn (e.g. after
    # staging and smoke tests), was corrected on the way and does not make the outcome a failure.
    failures = [
        f"{t.name}: {t.result}"
        for i, t in enumerate(tool_calls)
        if not t.ok and not any(later.ok and later.name == t.name for later in tool_calls[i + 1 :])
    ]
    succeeded = [t.name for t in tool_calls if t.ok]
    if error:
        return Outcome("failure", error, failures + [error])
    if not tool_calls:
        return Outcome("none", "answered without acting")
    if not failures:
        return Outcome("success", f"ran {', '.join(succeeded)}")
    status: Literal["failure", "partial"] = "partial" if succeeded else "failure"
    return Outcome(status, f"{len(failures)} of {len(tool_calls)} tool calls failed or were denied", failures)


def judge(model: Model, goal: str, tool_calls: list[ToolCallRecord], answer: str) -> tuple[Outcome, Usage]:
    """The optional structured LLM judgment (Agent.judge_outcomes)."""
    prompt = render("evaluate", goal=goal, tool_calls=tool_calls, answer=answer)
    out = model.structured([Message("user", prompt)], OutcomeJudgment)
    failures = [out.value.lesson] if out.value.lesson else []
    return Outcome(out.value.status, out.value.summary, failures, judged_by="model"), out.usage
