"""Steps 3 ⇄ 4 as one named step: reason (ask the model with the prompt and the tool schemas), act
on each tool call it makes (every call through the gate), and go again with the results, until the
model answers in text or the step limit is reached.

`run` is a generator: it yields an `Ask` for each model request (the driver streams the reply's
text to the caller and sends the Completion back) and an event for each tool call, so the caller
sees the answer and the calls as they happen.

Skills are chosen here too, in the same request as the answer: when the agent has skills to walk,
the model is offered one more function, `use_skill`; calling it ends the run with the chosen
skill, which the loop then walks through the same `ReasonAct`, one `run` per step. The object
keeps what the turn did across runs (calls, usage, the last prompt), so nothing is lost when a
later run fails.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from framework.errors import StepLimitExceeded
from framework.events import ApprovalNeeded, ToolCallFinished, ToolCallStarted
from framework.llm.messages import Completion, Message, ToolCall, Usage
from framework.llm.requests import Ask
from framework.memory.context import ContextWindow
from framework.memory.procedural import Skill
from framework.outcome import ToolCallRecord
from framework.steps.act import CallContext
from framework.steps.reason import build_prompt

USE_SKILL = "use_skill"


@dataclass
class CycleResult:
    """What one run did: its closing text, the tool calls it made, and the skill it chose."""

    text: str
    tool_calls: list[ToolCallRecord]
    skill: Skill | None = None


class ReasonAct:
    def __init__(
        self,
        window: ContextWindow,
        system: Message,
        history: list[Message],
        user_input: str,
        calls: CallContext,
        max_steps: int,
        skills: list[Skill] | None = None,
    ) -> None:
        self.window, self.calls = window, calls
        self.system, self.history = system, history
        self.current = [Message("user", user_input)]  # this turn so far: the input, calls, results
        self.max_steps = max_steps
        self.skills = {s.name: s for s in skills or []}  # offered until one is chosen
        self.tool_calls: list[ToolCallRecord] = []  # the model's calls (calls from code: the turn's)
        self.usage = Usage()
        self.messages: list[Message] = []  # the last prompt sent

    def run(self, instruction: str | None = None) -> Generator[Any, Any, CycleResult]:
        """Reason ⇄ act until the model answers in text; `instruction` is a skill step's order."""
        if instruction is not None:
            self.current.append(Message("user", instruction))
        first = len(self.tool_calls)
        for _step in range(self.max_steps):
            self.messages = build_prompt(self.window, self.system, self.history, self.current).messages
            reply: Completion = yield Ask(self.messages, self._schemas())
            self.usage.add(reply.usage)
            if not reply.tool_calls:
                self.current.append(Message("assistant", reply.text or ""))
                return CycleResult(reply.text or "", self.tool_calls[first:])
            self.current.append(Message("assistant", reply.text, tool_calls=reply.tool_calls))
            chosen: Skill | None = None
            for call in reply.tool_calls:
                if call.name == USE_SKILL and self.skills:
                    chosen, result = self._choose(call)
                    self.current.append(Message("tool", result, tool_call_id=call.id, name=call.name))
                    continue
                yield ToolCallStarted(call.name, dict(call.arguments))
                checked = self.calls.check(call)
                if checked.request is not None:
                    yield ApprovalNeeded(checked.request)
                record = self.calls.finish(checked)
                self.tool_calls.append(record)
                self.current.append(Message("tool", record.result, tool_call_id=call.id, name=call.name))
                yield ToolCallFinished(record)
            if chosen is not None:
                return CycleResult(reply.text or "", self.tool_calls[first:], chosen)
        raise StepLimitExceeded(f"stopped after {self.max_steps} reasoning steps without a final answer")

    def _schemas(self) -> list[dict[str, Any]] | None:
        tools = list(self.calls.toolbox.schemas or [])
        if self.skills:
            tools.append(_use_skill_schema(list(self.skills.values())))
        return tools or None

    def _choose(self, call: ToolCall) -> tuple[Skill | None, str]:
        """The skill a `use_skill` call names, and what the model is told."""
        name = str(call.arguments.get("name", ""))
        skill = self.skills.get(name)
        if skill is None:
            return None, f"error: no skill named {name!r}; skills: {sorted(self.skills)}"
        self.skills = {}  # one skill per turn
        return skill, f"skill {skill.name} v{skill.version} started: {len(skill.steps)} steps follow"


def _use_skill_schema(skills: list[Skill]) -> dict[str, Any]:
    listed = "; ".join(f"{s.name}: {s.when_to_use}" for s in skills)
    return {
        "type": "function",
        "function": {
            "name": USE_SKILL,
            "description": (
                "Walk one of the agent's skills step by step when the request fits it (instead of "
                f"answering directly). Skills: {listed}"
            ),
            "parameters": {
                "type": "object",
                "properties": {"name": {"type": "string", "enum": [s.name for s in skills]}},
                "required": ["name"],
            },
        },
    }
