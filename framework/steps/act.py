"""Step 4: run one tool call, but only through the policy gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from framework.gate import PolicyGate
from framework.llm.messages import ToolCall
from framework.sensitive import redact
from framework.memory.working import ToolRecord, WorkingState
from framework.tools import ToolSpec
from framework.turn import ToolCallRecord


@dataclass
class ApprovalRequest:
    """What a human is asked to approve: the call and the policies that want approval."""

    tool: str
    arguments: dict[str, Any]
    reasons: list[str]
    user_id: str | None
    session_id: str


Approver = Callable[[ApprovalRequest], bool]


class ToolFailure(Exception):
    """Raise from a tool to report that it ran and failed (the outcome counts it as a failure)."""


def act(
    call: ToolCall,
    tools: dict[str, ToolSpec],
    gate: PolicyGate,
    state: WorkingState,
    approve: Approver | None,
    user_id: str | None,
) -> ToolCallRecord:
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
    decision = gate.check(call.name, arguments, state)
    record = ToolCallRecord(call.name, arguments, decision.verdict, decision.reasons, decision.policies)
    if decision.verdict == "deny":
        record.result = f"DENIED by policy: {decision.message}"
    elif decision.verdict == "approve":
        request = ApprovalRequest(call.name, arguments, decision.reasons, user_id, state.session_id)
        record.approved = bool(approve(request)) if approve is not None else False
        if not record.approved:
            record.result = f"DENIED: a human did not approve this call. {decision.message}"
    if record.verdict != "deny" and record.approved is not False:
        _execute(spec, arguments, record)
        if decision.verdict == "warn":
            record.result = f"(policy warning: {decision.message}) {record.result}"
    state.tool_history.append(
        ToolRecord(
            name=call.name,
            arguments=json.loads(redact(json.dumps(arguments, default=str))),
            ok=record.ok,
            decision=record.verdict,
        )
    )
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
