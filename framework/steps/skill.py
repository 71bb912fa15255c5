"""Skills that act: the model picks the skill whose `when_to_use` fits the request (the
`use_skill` function offered with the answer request, framework.steps.respond), and a
SkillExecutor walks its steps one by one through the reason ⇄ act cycle — every tool call still
gated. A step whose tool calls failed (and were not put right within the step) stops the skill
with the step number and the error."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from framework.events import SkillStep
from framework.memory.procedural import Skill
from framework.memory.working import WorkingState
from framework.outcome import ToolCallRecord
from framework.steps.respond import ReasonAct


@dataclass
class SkillRun:
    skill: str  # "name@version"
    steps: int
    completed: list[int] = field(default_factory=list)
    failed_step: int | None = None
    error: str | None = None
    text: str = ""


def walkable(skills: list[Skill]) -> list[Skill]:
    """The skills the model may choose to walk: those that name tools (a skill without tools is
    guidance: it is in the prompt, there is nothing to execute)."""
    return [s for s in skills if s.tools]


class SkillExecutor:
    def __init__(self, skill: Skill) -> None:
        self.skill = skill

    def run(self, cycle: ReasonAct, state: WorkingState) -> Generator[Any, Any, SkillRun]:
        skill = self.skill
        run = SkillRun(f"{skill.name}@{skill.version}", len(skill.steps))
        state.phase = f"skill {skill.name}"
        state.pending_actions = list(skill.steps)
        for number, step in enumerate(skill.steps, 1):
            yield SkillStep(run.skill, number, len(skill.steps), step)
            result = yield from cycle.run(
                f"[skill {skill.name} v{skill.version}, step {number} of {len(skill.steps)}] {step}\n"
                "Do this step now, using the tools if it needs them, then say in one line what you did."
            )
            run.text = result.text
            failed = _unresolved_failures(result.tool_calls)
            if failed:
                run.failed_step, run.error = number, failed[0]
                state.phase = f"skill {skill.name} stopped at step {number}"
                return run
            run.completed.append(number)
            state.complete_step(step)
        state.phase = f"skill {skill.name} completed"
        return run


def _unresolved_failures(calls: list[ToolCallRecord]) -> list[str]:
    return [
        f"{c.name}: {c.result}"
        for i, c in enumerate(calls)
        if not c.ok and not any(later.ok and later.name == c.name for later in calls[i + 1 :])
    ]
