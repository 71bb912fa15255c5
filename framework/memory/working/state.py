"""L2 working memory's record: what one session is doing now (goal, phase, steps, decisions,
tool history, conversation and its rolling summary). Redacted by the caller before it is stored."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from framework.clock import utcnow
from framework.memory.working.conversation import CONTEXT_LINES, mask, redact_line
from framework.memory.working.secret_marks import MAX_MARKS, holds_marked, marks_of, mask_marked, new_key
from framework.sensitive import redact, sensitive_values

# An argument named like a credential (db_password, api_key, authToken) holds one, whatever it says.
_SECRET_NAME = re.compile(r"(?i)pass(?:word|wd|phrase|code)?|secret|token|api_?key|credential|private_?key")


def _redacted(value: Any, name: str = "") -> Any:
    """A JSON value with every string redacted, and every value under a credential's name hidden.
    Value by value, so the result is still the same JSON shape (never a broken document)."""
    if isinstance(value, dict):
        return {str(k): _redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, name) for v in value]
    if name and _SECRET_NAME.search(name) and value not in (None, "", True, False):
        return "[REDACTED:secret]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(json.dumps(value, default=str))


class ToolRecord(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    decision: str  # the gate's verdict
    at: datetime = Field(default_factory=utcnow)


class ConversationLine(BaseModel):
    role: str
    content: str


class TaskDecision(BaseModel):
    """A choice made during the task, and why: what a resumed task must not re-litigate."""

    decision: str
    rationale: str = ""
    at: datetime = Field(default_factory=utcnow)


MAX_CONVERSATION_LINES = 60  # older lines are what the context window would evict anyway
MAX_TOOL_RECORDS = 200


class WorkingState(BaseModel):
    """What a session is doing now. Redacted before it is stored."""

    user_id: str | None  # None: an anonymous session
    session_id: str
    goal: str | None = None
    phase: str | None = None
    completed_steps: list[str] = Field(default_factory=list)
    pending_actions: list[str] = Field(default_factory=list)
    intermediate_results: dict[str, Any] = Field(default_factory=dict)  # JSON values
    decisions: list[TaskDecision] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)  # for this task only, not long-term
    tool_history: list[ToolRecord] = Field(default_factory=list)
    conversation: list[ConversationLine] = Field(default_factory=list)
    summary: str = ""  # the rolling summary of conversation lines folded out of the window
    folded_lines: int = 0  # how many lines the summary stands for
    written_ids: list[int] = Field(default_factory=list)  # memories this session wrote
    # Keyed hashes of secrets seen in this session (working.secret_marks): never the secrets.
    secret_key: str = Field(default_factory=new_key)
    secret_marks: list[str] = Field(default_factory=list)
    writes: int = 0
    version: int = 0  # how many times this session's state was saved; 0: never
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    # The JSON this state was loaded from (or last saved as): the base of a three-way merge.
    _base: str | None = PrivateAttr(default=None)
    _stored_as_is: bool = PrivateAttr(default=False)  # set by next_stored's no-merge path

    def __eq__(self, other: object) -> bool:  # the merge base is bookkeeping, not state
        return isinstance(other, WorkingState) and self.model_dump() == other.model_dump()

    def succeeded(self, tool: str) -> bool:
        return any(r.name == tool and r.ok for r in self.tool_history)

    def add_exchange(self, user_input: str, answer: str, tool_results: Iterable[str] = ()) -> None:
        """Keep a turn's two lines, redacted (a secret split over turns or named later included:
        working.conversation), and marks of every secret value the turn showed."""
        earlier = [line.content for line in self.conversation if line.role == "user"][-CONTEXT_LINES:]
        said, values, found = redact_line(user_input, earlier)
        for result in tool_results:
            values |= sensitive_values(result)
        if any(f.value and f.value not in user_input for f in found):  # pieces in earlier lines
            for line in self.conversation[-2 * CONTEXT_LINES :]:
                line.content = mask(line.content, values)
        self.conversation += [  # a secret marked in an earlier turn is masked when it comes back
            ConversationLine(role="user", content=self._unmarked(said)),
            ConversationLine(role="assistant", content=self._unmarked(mask(redact(answer), values))),
        ]
        self.mark_secrets(values)

    def _unmarked(self, text: str) -> str:
        return mask_marked(self.secret_key, self.secret_marks, text)

    def mark_secrets(self, values: Iterable[str]) -> None:
        """Remember that these secret values were seen (as keyed hashes), for later turns."""
        fresh = [m for m in marks_of(self.secret_key, values) if m not in self.secret_marks]
        self.secret_marks = (self.secret_marks + fresh)[-MAX_MARKS:]

    def holds_secret_seen_before(self, text: str) -> bool:
        """Whether `text` repeats a secret marked in an earlier turn of this session."""
        return holds_marked(self.secret_key, self.secret_marks, text)

    def record_call(self, name: str, arguments: dict[str, Any], ok: bool, verdict: str) -> None:
        """Add a tool call to the history the gate checks (arguments redacted: secrets stay out)."""
        shown = _redacted(arguments)
        self.tool_history.append(ToolRecord(name=name, arguments=shown, ok=ok, decision=verdict))

    def decide(self, decision: str, rationale: str = "") -> TaskDecision:
        made = TaskDecision(decision=decision, rationale=rationale)
        self.decisions.append(made)
        return made

    def complete_step(self, step: str) -> None:
        """Record `step` as done; it is no longer pending."""
        if step in self.pending_actions:
            self.pending_actions.remove(step)
        self.completed_steps.append(step)

    def _adopt(self, stored: str) -> None:
        """Become what was stored (after a save that may have merged): fields, version, base."""
        if self._stored_as_is:  # nothing was merged: this object already is what was stored
            self._stored_as_is, self._base = False, stored
            return
        fresh = WorkingState.model_validate_json(stored)
        for name in type(self).model_fields:
            setattr(self, name, getattr(fresh, name))
        self._base = stored
