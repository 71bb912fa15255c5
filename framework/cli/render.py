"""How a Turn is shown on a terminal: the answer, and on request each step of the loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from framework.outcome import ToolCallRecord
    from framework.turn import Turn


def answer(turn: Turn, speaker: str = "agent") -> None:
    click.echo(click.style(f"{speaker}> ", fg="green", bold=True) + turn.answer)
    if turn.error:
        click.echo(click.style(f"  ! {turn.error}", fg="red"))


def tool_calls(turn: Turn) -> None:
    for t in turn.tool_calls:
        tool_call(t)


def tool_call(t: ToolCallRecord) -> None:
    """One line: the call, the gate's verdict (and the human's), and what came of it."""
    args = ", ".join(f"{k}={v!r}" for k, v in t.arguments.items())
    verdict = t.verdict + ("" if t.approved is None else (" → approved" if t.approved else " → refused"))
    colour = {"allow": "cyan", "warn": "yellow"}.get(t.verdict, "red")
    click.echo(
        click.style(f"  tool {t.name}({args}) [{verdict}] ", fg=colour)
        + ("ok" if t.ok else "not run / failed")
        + f": {t.result[:160]}"
    )


def recollection(turn: Turn) -> None:
    if turn.recollection is None:
        return
    lines = turn.recollection.explain()
    click.echo(
        click.style("  memory used, and why:", dim=True)
        if lines
        else click.style("  memory used: none", dim=True)
    )
    for line in lines:
        click.echo(click.style(f"    {line}", dim=True))


def memory_ops(turn: Turn) -> None:
    for op in turn.memory_ops:
        colour = {"write": "green", "supersede": "magenta", "forget": "yellow", "reject": "red"}.get(
            op.kind, "blue"
        )
        target = f"#{op.memory_id}" if op.memory_id is not None else ""
        text = f" {op.content!r}" if op.content else ""
        click.echo(click.style(f"  memory {op.kind} {target}{text} — {op.reason}", fg=colour))


def steps(turn: Turn, tools: bool = True) -> None:
    """Everything the loop did, step by step (used by the demo and chat's /steps); `tools=False`
    when the calls were shown as they happened."""
    if turn.intent is not None:
        i = turn.intent
        flags = [n for n in ("remember", "forget", "correction", "trivial") if getattr(i, n)]
        click.echo(
            click.style(
                f"  1 intent: {i.task_type}: {i.goal}" + (f" [{', '.join(flags)}]" if flags else ""), dim=True
            )
        )
    recollection(turn)
    if turn.skill is not None:
        done = f"steps {turn.skill.completed} of {turn.skill.steps} done"
        stop = f", stopped at step {turn.skill.failed_step}" if turn.skill.failed_step else ""
        click.echo(click.style(f"  skill {turn.skill.skill}: {done}{stop}", fg="cyan"))
    if tools:
        tool_calls(turn)
    if turn.outcome is not None:
        click.echo(click.style(f"  5 outcome: {turn.outcome.status} — {turn.outcome.summary}", dim=True))
    memory_ops(turn)
