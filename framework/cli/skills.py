"""`framework skills ...`: what the procedural memory loads (and what it cannot), each file's
history in git, and the JSON Schema of skill and policy files for editors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from framework.memory.procedural import Procedures


def _folders(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--policies",
        "policies_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="folder of policy YAML files (default: the shipped policies/)",
    )(fn)
    fn = click.option(
        "--skills",
        "skills_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="folder of skill YAML files (default: the shipped skills/)",
    )(fn)
    return fn


def _load(skills_dir: Path | None, policies_dir: Path | None) -> Procedures:
    from framework.memory.procedural import load_procedures
    from framework.resources import shipped_folder

    return load_procedures(skills_dir or shipped_folder("skills"), policies_dir or shipped_folder("policies"))


@click.group()
def skills() -> None:
    """Skills and policies (procedural memory): validate, list, history, schema."""


@skills.command("list")
@_folders
def list_(skills_dir: Path | None, policies_dir: Path | None) -> None:
    """Every skill and policy that loads, then each problem (file, line or field). Exits 1 when
    there is an error or a conflict, so it can check a folder in CI."""
    procedures = _load(skills_dir, policies_dir)
    for item in [*procedures.skills, *procedures.policies]:
        kind = type(item).__name__.lower()
        click.echo(f"{kind:6}  {item.label:40}  {item.source}")
    for old in procedures.deprecated:
        kind = type(old).__name__.lower()
        instead = f", superseded by {old.superseded_by}" if old.superseded_by else ""
        click.echo(f"{kind:6}  {old.label:40}  {old.source}  (deprecated{instead}: not used)")
    for problem in procedures.errors:
        click.echo(f"error: {problem}")
    for conflict in procedures.conflicts:
        click.echo(f"conflict: {conflict}")
    shown = len(procedures.skills) + len(procedures.policies)
    click.echo(
        f"{shown} in use, {len(procedures.deprecated)} deprecated, {len(procedures.errors)} errors, "
        f"{len(procedures.conflicts)} conflicts"
    )
    if procedures.problems:
        raise SystemExit(1)


@skills.command()
@click.argument("name")
@_folders
def history(name: str, skills_dir: Path | None, policies_dir: Path | None) -> None:
    """The versions of skill or policy NAME: its changelog, and the git commits of its file."""
    from framework.errors import HistoryUnavailable
    from framework.memory.procedural import file_history

    procedures = _load(skills_dir, policies_dir)
    found = [p for p in procedures.find(name) if p.source is not None]
    if not found:
        known = sorted({p.name for p in [*procedures.skills, *procedures.policies, *procedures.deprecated]})
        raise click.ClickException(f"no skill or policy named {name!r}; known: {', '.join(known) or 'none'}")
    for item in found:
        assert item.source is not None
        state = " (deprecated)" if item.deprecated else ""
        click.echo(f"{type(item).__name__.lower()} {item.label}{state}  {item.source}")
        for entry in item.changelog:
            date = f" {entry.date}" if entry.date else ""
            click.echo(f"  changelog v{entry.version}{date}: {entry.change}")
        try:
            commits = file_history(item.source)
        except HistoryUnavailable as exc:
            click.echo(f"  no git history: {exc}")
            continue
        if not commits:
            click.echo(f"  no commit touches {item.source.name} yet (it is not committed)")
        for c in commits:
            version = f"v{c.version}" if c.version is not None else "v?"
            click.echo(f"  {c.sha[:10]} {c.date} {version:4} {c.author}: {c.subject}")


@skills.command()
@click.argument("kind", required=False, type=click.Choice(["skill", "policy"]))
def schema(kind: str | None) -> None:
    """The JSON Schema of a skill or policy file (both, keyed by kind, without KIND).

    \b
    framework skills schema policy > policy.schema.json
    then, in a YAML file:  # yaml-language-server: $schema=policy.schema.json
    """
    from framework.memory.procedural import SCHEMAS, json_schema

    out = json_schema(kind) if kind else {k: json_schema(k) for k in SCHEMAS}
    click.echo(json.dumps(out, indent=2))
