"""Step 4: run one tool call, but only through the policy gate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from framework.errors import ToolFailure
from framework.gate import ApprovalRequest, Approver, PolicyGate, ToolHistory
from framework.llm.messages import ToolCall
from framework.outcome import ToolCallRecord
from framework.tools import ToolSpec


@dataclass
class Toolbox:
    """What a turn may call and what guards it: the tools, their schemas (built once), the gate,
    and the human who answers when a policy asks for approval (None: nobody, so it is refused)."""

    tools: dict[str, ToolSpec]
    gate: PolicyGate
    approve: Approver | None = None
    schemas: list[dict[str, Any]] | None = field(init=False)

    def __post_init__(self) -> None:
        self.schemas = [spec.schema() for spec in self.tools.values()] or None


def act(
    call: ToolCall, toolbox: Toolbox, history: ToolHistory, user_id: str | None, session_id: str
) -> ToolCallRecord:
    """Validate the call, ask the gate (and a human when a policy wants one), run it if allowed."""
    tools = toolbox.tools
    spec = tools.get(call.name)
    if spec is None:
        return ToolCallRecord(
            call.name,
            call.arguments,
            "error",
            [],
            [],
            ok=False,
            result=f"error: no tool named {call.name!r}; available: {sorted(tools)}",
        )
    if call.malformed is not None:
        return ToolCallRecord(
            call.name,
            {},
            "error",
            [],
            [],
            ok=False,
            result=f"error: arguments were not a JSON object: {call.malformed[:200]}",
        )
    try:
        arguments = spec.validate(call.arguments)
    except ValueError as exc:
        return ToolCallRecord(call.name, call.arguments, "error", [], [], ok=False, result=f"error: {exc}")
    decision = toolbox.gate.check(call.name, arguments, history)
    record = ToolCallRecord(call.name, arguments, decision.verdict, decision.reasons, decision.policies)
    if decision.verdict == "deny":
        record.result = f"DENIED by policy: {decision.message}"
    elif decision.verdict == "approve":
        request = ApprovalRequest(call.name, arguments, decision.reasons, user_id, session_id)
        record.approved = bool(toolbox.approve(request)) if toolbox.approve is not None else False
        if not record.approved:
            record.result = f"DENIED: a human did not approve this call. {decision.message}"
    if record.verdict != "deny" and record.approved is not False:
        _execute(spec, arguments, record)
        if decision.verdict == "warn":
            record.result = f"(policy warning: {decision.message}) {record.result}"
    return record


def _execute(spec: ToolSpec, arguments: dict[str, Any], record: ToolCallRecord) -> None:
    try:
        value = spec.function(**arguments)
    except ToolFailure as exc:
        record.ok, record.result = False, f"FAILED: {exc}"
        return
    except Exception as exc:  # a tool's bug is reported to the model, not raised through the loop
        record.ok, record.result = False, f"error: {type(exc).__name__}: {exc}"
        return
    record.ok = True
    record.result = value if isinstance(value, str) else json.dumps(value, default=str)
