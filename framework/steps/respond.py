"""Steps 3 ⇄ 4 as one named step: reason (ask the model with the prompt and the tool schemas), act
on each tool call it makes (every call through the gate), and go again with the results, until the
model answers in text or the step limit is reached.

A skill walks its steps through the same `ReasonAct`, one `run` per step; the object keeps what the
turn did across runs (calls, usage, the last prompt), so nothing is lost when a later run fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.errors import StepLimitExceeded
from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.context import ContextWindow
from framework.outcome import ToolCallRecord
from framework.steps.act import CallContext
from framework.steps.reason import build_prompt


@dataclass
class CycleResult:
    """What one run did: its closing text and the tool calls it made."""

    text: str
    tool_calls: list[ToolCallRecord]


class ReasonAct:
    def __init__(
        self,
        model: Model,
        window: ContextWindow,
        system: Message,
        history: list[Message],
        user_input: str,
        calls: CallContext,
        max_steps: int,
    ) -> None:
        self.model, self.window, self.calls = model, window, calls
        self.system, self.history = system, history
        self.current = [Message("user", user_input)]  # this turn so far: the input, calls, results
        self.max_steps = max_steps
        self.tool_calls: list[ToolCallRecord] = []  # the model's calls (calls from code: the turn's)
        self.usage = Usage()
        self.messages: list[Message] = []  # the last prompt sent

    def run(self, instruction: str | None = None) -> CycleResult:
        """Reason ⇄ act until the model answers in text; `instruction` is a skill step's order."""
        if instruction is not None:
            self.current.append(Message("user", instruction))
        first = len(self.tool_calls)
        for _step in range(self.max_steps):
            self.messages = build_prompt(self.window, self.system, self.history, self.current).messages
            reply = self.model.complete(self.messages, self.calls.toolbox.schemas)
            self.usage.add(reply.usage)
            if not reply.tool_calls:
                self.current.append(Message("assistant", reply.text or ""))
                return CycleResult(reply.text or "", self.tool_calls[first:])
            self.current.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
            for call in reply.tool_calls:
                record = self.calls.run(call)
                self.tool_calls.append(record)
                self.current.append(Message("tool", record.result, tool_call_id=call.id, name=call.name))
        raise StepLimitExceeded(f"stopped after {self.max_steps} reasoning steps without a final answer")
