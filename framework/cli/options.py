"""Options shared by several commands, and loading an agent named on the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from framework.agent import Agent


def common(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--home",
        type=click.Path(file_okay=False),
        default=None,
        help="FRAMEWORK_HOME: where the database, cache and logs live (default ~/.framework).",
    )(fn)
    fn = click.option(
        "--embedder",
        default=None,
        help="local (default), hash (tests) or litellm:<model>. Env: FRAMEWORK_EMBEDDER.",
    )(fn)
    return fn


# The agent a command runs (chat, serve): resolved by load_agent_class.
agent_option = click.option(
    "--agent",
    "agent_spec",
    default="assistant",
    show_default=True,
    help="a file in agents/ (assistant, devops), a path to a .py file, or module:Class",
)


def load_agent_class(spec: str) -> type[Agent]:
    """The agent `--agent` names (framework.agent_class), refused as a bad --agent value."""
    from framework.agent_class import load_agent_class as load
    from framework.errors import DefinitionError

    try:
        return load(spec)
    except DefinitionError as exc:
        raise click.BadParameter(str(exc), param_hint="--agent") from exc
