"""Step 4: run one tool call, but only through the policy gate.

`act` is the one way a tool runs. The model's calls reach it through reason ⇄ act; skill steps
through the same cycle; and code that calls a tool directly — a hook, a tool calling another
tool, application code — reaches it too, because an agent's tool methods are replaced on the
instance by `GatedTool`s that route every call here (with the running turn's history when there
is one, with an empty history otherwise). Tools added later (MCP) register in the same Toolbox.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from framework.errors import PolicyDenied, ToolFailure
from framework.gate import ApprovalRequest, Approver, PolicyGate, ask
from framework.llm.messages import ToolCall
from framework.memory.working import WorkingState
from framework.outcome import ToolCallRecord
from framework.telemetry import NULL, Span
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


@dataclass
class CallContext:
    """Where a call happens: the toolbox, the session's history (which the gate checks and each call
    extends), who is asking, and who is told of each call (the turn's record, the audit, hooks)."""

    toolbox: Toolbox
    state: WorkingState
    observe: Callable[[ToolCallRecord], None] = lambda record: None
    span: Span = NULL  # the turn's step that tool calls are traced under

    def run(self, call: ToolCall) -> ToolCallRecord:
        return self.finish(self.check(call))

    def check(self, call: ToolCall) -> CheckedCall:
        """The gate's decision on a call, before any human is asked or anything runs."""
        return check(call, self.toolbox, self.state, self.state.user_id, self.state.session_id)

    def finish(self, checked: CheckedCall) -> ToolCallRecord:
        """Ask the human if the gate wants one, run the call if allowed, and record it. Tools the
        call itself calls are gated in this context (recorded on the same turn)."""
        span = self.span.child(
            f"execute_tool {checked.record.name}",
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": checked.record.name},
        )
        record = perform(checked, self.toolbox, self)
        span.update(
            {
                "framework.gate.verdict": record.verdict,
                "framework.gate.policies": record.policies,  # name@version of each that decided
                "framework.gate.effects": record.effects,
                "framework.gate.approved": record.approved,
                "framework.tool.ok": record.ok,
                "framework.tool.origin": record.origin,
            }
        )
        span.end()
        self.state.record_call(record.name, record.arguments, record.ok, record.verdict)
        with calls_in(self):  # a hook that calls a tool on hearing of this call: gated here too
            self.observe(record)
        return record


_context: ContextVar[CallContext | None] = ContextVar("framework_call_context", default=None)
_code_calls = itertools.count(1)


@contextmanager
def calls_in(context: CallContext) -> Iterator[None]:
    """Tools called from code while this is open are gated in `context` (the running turn)."""
    token = _context.set(context)
    try:
        yield
    finally:
        _context.reset(token)


@dataclass
class CheckedCall:
    """A call the gate has decided on: its record so far, and what a human is to be asked
    (`request`, when the verdict is "approve"). `spec` is None when it was refused outright."""

    record: ToolCallRecord
    spec: ToolSpec | None = None
    request: ApprovalRequest | None = None
    message: str = ""


def act(
    call: ToolCall, toolbox: Toolbox, history: WorkingState, user_id: str | None, session_id: str
) -> ToolCallRecord:
    """Validate the call, ask the gate (and a human when a policy wants one), run it if allowed."""
    return perform(check(call, toolbox, history, user_id, session_id), toolbox, _nested(toolbox, history))


def check(
    call: ToolCall, toolbox: Toolbox, history: WorkingState, user_id: str | None, session_id: str
) -> CheckedCall:
    """Validate the call and ask the gate; nothing runs and no human is asked yet."""
    tools = toolbox.tools
    spec = tools.get(call.name)
    if spec is None:
        return CheckedCall(_refused(call, f"error: no tool named {call.name!r}; available: {sorted(tools)}"))
    if call.malformed is not None:
        return CheckedCall(
            _refused(call, f"error: arguments were not a JSON object: {call.malformed[:200]}", {})
        )
    try:
        arguments = spec.validate(call.arguments)
    except ValueError as exc:
        return CheckedCall(_refused(call, f"error: {exc}"))
    decision = toolbox.gate.check(call.name, arguments, history, spec.effects)
    record = ToolCallRecord(
        call.name,
        arguments,
        decision.verdict,
        decision.reasons,
        decision.policies,
        effects=decision.effects,
        origin=spec.origin,
    )
    checked = CheckedCall(record, spec, message=decision.message)
    if decision.verdict == "deny":
        record.result = f"DENIED by policy: {decision.message}"
    elif decision.verdict == "approve":
        checked.request = ApprovalRequest(call.name, arguments, decision.reasons, user_id, session_id)
    return checked


def perform(checked: CheckedCall, toolbox: Toolbox, context: CallContext) -> ToolCallRecord:
    """Ask the human when the gate wants one; run the call if it is allowed (tools it calls are
    gated in `context`)."""
    record, spec = checked.record, checked.spec
    if spec is None or record.verdict == "deny":
        return record
    if checked.request is not None:
        record.approved = ask(toolbox.approve, checked.request)
        if not record.approved:
            record.result = f"DENIED: a human did not approve this call. {checked.message}"
            return record
    with calls_in(context):
        _execute(spec, record.arguments, record)
    if record.verdict == "warn":
        record.result = f"(policy warning: {checked.message}) {record.result}"
    return record


def _nested(toolbox: Toolbox, history: WorkingState) -> CallContext:
    """The context for tools a running tool calls: the caller's, if there is one."""
    outer = _context.get()
    return outer if outer is not None else CallContext(toolbox, history)


def _refused(call: ToolCall, why: str, arguments: dict[str, Any] | None = None) -> ToolCallRecord:
    shown = call.arguments if arguments is None else arguments
    return ToolCallRecord(call.name, shown, "error", [], [], ok=False, result=why)


def _execute(spec: ToolSpec, arguments: dict[str, Any], record: ToolCallRecord) -> None:
    try:
        value = spec.function(**arguments)
    except ToolFailure as exc:
        record.ok, record.result = False, f"FAILED: {exc}"
        return
    except Exception as exc:  # a tool's bug is reported to the model, not raised through the loop
        record.ok, record.result = False, f"error: {type(exc).__name__}: {exc}"
        return
    record.ok, record.value = True, value
    record.result = value if isinstance(value, str) else json.dumps(value, default=str)


class GatedTool:
    """An agent's tool as code sees it: calling it is a gated call, like the model's.

    In a turn (a hook, or a tool calling another tool) the call is checked against the turn's
    history and recorded in it; outside a turn, against an empty history (so a rule that needs
    earlier steps refuses). A denied or refused call raises PolicyDenied; a failed one raises
    ToolFailure; otherwise the tool's own return value comes back."""

    def __init__(self, spec: ToolSpec, toolbox: Callable[[], Toolbox], owner: str) -> None:
        self.spec, self._toolbox, self.owner = spec, toolbox, owner
        self.__name__ = self.__qualname__ = spec.name
        self.__doc__ = spec.description
        self._signature = inspect.signature(spec.function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            arguments = dict(self._signature.bind(*args, **kwargs).arguments)
        except TypeError as exc:
            raise TypeError(f"{self.owner}.{self.spec.name}: {exc}") from None
        context = _context.get() or CallContext(
            self._toolbox(), WorkingState(user_id=None, session_id="code")
        )
        call = ToolCall(id=f"code-{next(_code_calls)}", name=self.spec.name, arguments=arguments)
        record = context.run(call)
        if record.ok:
            return record.value
        if record.verdict == "deny" or record.approved is False:
            raise PolicyDenied(f"{self.spec.name}: {record.result}")
        raise ToolFailure(record.result)  # it ran and failed, or its arguments were refused
