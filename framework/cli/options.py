"""Options shared by several commands, and loading an agent named on the command line."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
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
    """`assistant` (a file in agents/), `path/to/file.py`, or `package.module:Class`."""
    from framework.agent import Agent
    from framework.resources import shipped_folder

    if ":" in spec and not spec.endswith(".py"):
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="--agent") from exc
        cls = getattr(module, class_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, Agent)):
            raise click.BadParameter(f"{spec!r} is not an Agent subclass", param_hint="--agent")
        return cls
    path = Path(spec)
    if not path.suffix:
        path = shipped_folder("agents") / f"{spec}.py"
    if not path.is_file():
        available = sorted(
            p.stem for p in shipped_folder("agents").glob("*.py") if not p.stem.startswith("_")
        )
        raise click.BadParameter(
            f"no agent file {path} (use a name from agents/: {', '.join(available)}; a .py file; "
            "or module:Class)",
            param_hint="--agent",
        )
    module_name = f"framework_agent_{path.stem}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    loader.loader.exec_module(module)
    found = [
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, Agent) and c is not Agent and c.__module__ == module_name
    ]
    if len(found) != 1:
        raise click.BadParameter(
            f"{path} defines {len(found)} Agent subclasses; name one as module:Class", param_hint="--agent"
        )
    return found[0]
