"""`framework memory ...` (inspect, export, forget, delete a user's memory) and `framework config`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from framework.cli.options import common

if TYPE_CHECKING:
    from framework.memory.manager import MemoryManager


def _manager(home: str | None, embedder: str | None) -> MemoryManager:
    from framework.config import load_settings
    from framework.errors import FrameworkError
    from framework.memory.manager import MemoryManager

    try:
        return MemoryManager(load_settings(home, embedder=embedder))
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def memory() -> None:
    """Inspect and govern what is remembered, per user."""


@memory.command("list")
@click.option("--user", required=True)
@click.option("--all", "show_all", is_flag=True, help="include superseded and forgotten memories")
@common
def list_(user: str, show_all: bool, home: str | None, embedder: str | None) -> None:
    """The user's memories (active only unless --all)."""
    manager = _manager(home, embedder)
    entries = manager.long_term.all_entries(user) if show_all else manager.long_term.active(user)
    for m in entries:
        extra = (
            f" [{m.status}" + (f" → #{m.superseded_by}" if m.superseded_by else "") + "]"
            if m.status != "active"
            else ""
        )
        click.echo(f"#{m.id} {m.memory_type} {m.confidence:.2f} {m.source}{extra}: {m.content}")
    if not entries:
        click.echo(f"no memories for user {user!r}")
    manager.close()


@memory.command()
@click.option("--user", required=True)
@common
def audit(user: str, home: str | None, embedder: str | None) -> None:
    """Every operation on the user's memory, oldest first."""
    manager = _manager(home, embedder)
    for e in manager.long_term.history(user):
        target = f" #{e.memory_id}" if e.memory_id is not None else ""
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S} {e.operation}{target} by {e.actor}: {e.reason}")
    manager.close()


@memory.command()
@click.option("--user", required=True)
@common
def export(user: str, home: str | None, embedder: str | None) -> None:
    """Everything stored about the user (memories, history, audit) as JSON on stdout."""
    manager = _manager(home, embedder)
    click.echo(json.dumps(manager.export(user), indent=2))
    manager.close()


@memory.command()
@click.argument("memory_id", type=int)
@click.option("--user", required=True)
@click.option("--reason", default="forgotten on request (CLI)", show_default=True)
@common
def forget(memory_id: int, user: str, reason: str, home: str | None, embedder: str | None) -> None:
    """Forget one memory: never recalled again, the reason kept in the audit."""
    manager = _manager(home, embedder)
    done = manager.long_term.forget(user, memory_id, actor="user", reason=reason)
    manager.close()
    if not done:
        raise click.ClickException(
            f"user {user!r} has no active memory #{memory_id} (see `framework memory list --user {user}`)"
        )
    click.echo(f"forgot #{memory_id}")


@memory.command("delete-user")
@click.option("--user", required=True)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@common
def delete_user(user: str, yes: bool, home: str | None, embedder: str | None) -> None:
    """Delete everything stored about a user: memories, vectors, lexical index, audit, sessions."""
    if not yes:
        click.confirm(f"delete everything stored about {user!r}?", abort=True)
    manager = _manager(home, embedder)
    counts = manager.delete_user(user)
    manager.close()
    click.echo(f"deleted {counts['memories']} memories and {counts['sessions']} sessions of {user!r}")


@click.command()
@common
@click.option("--model", default=None)
def config(home: str | None, embedder: str | None, model: str | None) -> None:
    """Show each setting, its value, and where it came from (flag > env > file > default)."""
    from framework.config import load_settings

    settings = load_settings(home, embedder=embedder, model=model)
    click.echo(f"home: {settings.home}  (config file: {settings.config_file})")
    for name, source in settings.sources.items():
        click.echo(f"{name}: {getattr(settings, name)!r}  ({source})")
