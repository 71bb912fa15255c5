"""The Agent subclass a command or a service worker runs, found from how it is named:
`assistant` (a file in the shipped agents/ folder), `path/to/file.py`, or `package.module:Class`."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from framework.agent import Agent
from framework.errors import DefinitionError
from framework.resources import shipped_folder


def load_agent_class(spec: str) -> type[Agent]:
    """The Agent subclass `spec` names; a DefinitionError says what is wrong and what to give."""
    if ":" in spec and not spec.endswith(".py"):
        module_name, _, class_name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise DefinitionError(f"cannot import {module_name!r}: {exc}") from exc
        cls = getattr(module, class_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, Agent)):
            raise DefinitionError(f"{spec!r} is not an Agent subclass")
        return cls
    path = Path(spec)
    if not path.suffix:
        path = shipped_folder("agents") / f"{spec}.py"
    if not path.is_file():
        available = sorted(
            p.stem for p in shipped_folder("agents").glob("*.py") if not p.stem.startswith("_")
        )
        raise DefinitionError(
            f"no agent file {path} (use a name from agents/: {', '.join(available)}; a .py file; "
            "or module:Class)"
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
        raise DefinitionError(f"{path} defines {len(found)} Agent subclasses; name one as module:Class")
    return found[0]
