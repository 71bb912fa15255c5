"""`framework bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import json

import click


@click.group()
def bench() -> None:
    """Measure the runtime."""


@bench.command()
@click.option("--memories", default=1000, show_default=True, help="memories stored for the user first")
@click.option("--turns", default=300, show_default=True, help="turns measured")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def overhead(memories: int, turns: int, as_json: bool) -> None:
    """The runtime's own cost per turn (ScriptedModel, query embedding excluded), and --help time."""
    from framework.bench.overhead import measure

    result = measure(memories=memories, turns=turns)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"turn overhead with {memories} memories over {turns} turns "
        f"(ScriptedModel; query embedding excluded):"
    )
    click.echo(f"  p50 {result['turn_overhead_p50_ms']:.2f} ms   p95 {result['turn_overhead_p95_ms']:.2f} ms")
    for step, ms in result["step_p50_ms"].items():
        click.echo(f"    {step:<11} p50 {ms:.2f} ms")
    click.echo(f"  `framework --help`: {result['help_s']:.3f} s (median of 5)")
