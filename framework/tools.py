"""`@tool`: turn an Agent method into a tool the model can call, with a JSON schema derived
from its type hints and docstring (Google-style `Args:` lines describe the parameters)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ValidationError, create_model

from framework.errors import DefinitionError

_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: type[BaseModel]
    function: Callable[..., Any]

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema sent to the model."""
        params = self.parameters.model_json_schema()
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate and coerce arguments; raises ValueError naming the bad argument."""
        try:
            return dict(self.parameters.model_validate(arguments))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"invalid arguments for {self.name}: {problems}") from None


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark a method of an Agent subclass as a tool. Use bare (`@tool`) or with a name."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__framework_tool__ = name or fn.__name__  # type: ignore[attr-defined]
        return fn

    return mark(function) if function is not None else mark


def build_spec(fn: Callable[..., Any], name: str, owner: str) -> ToolSpec:
    """Build a ToolSpec from a (bound or unbound) function; errors name the class and method."""
    where = f"{owner}.{fn.__name__}"
    doc = inspect.getdoc(fn)
    if not doc:
        raise DefinitionError(f"tool {where} needs a docstring: the model reads it to decide when to call it")
    description, arg_docs = _parse_docstring(doc)
    try:
        hints = get_type_hints(fn)
    except Exception as exc:
        raise DefinitionError(f"tool {where}: cannot read type hints ({exc})") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"tool {where}: *args/**kwargs cannot be described to a model")
        if param.name not in hints:
            raise DefinitionError(
                f"tool {where}: parameter {param.name!r} needs a type hint (e.g. `{param.name}: str`)"
            )
        from pydantic import Field

        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=arg_docs.get(param.name)))
    model = create_model(f"{name}_arguments", **fields)
    return ToolSpec(name=name, description=description, parameters=model, function=fn)


_SECTION = re.compile(r"^(args|arguments|parameters|returns?|raises|yields?|examples?|notes?):\s*$", re.I)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before the first section) and the `Args:` descriptions."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    for line in doc.splitlines():
        header = _SECTION.match(line.strip())
        if header and not line.startswith(" "):
            section = header.group(1).lower()
            continue
        if section is None:
            summary.append(line)
        elif section in ("args", "arguments", "parameters"):
            match = _ARG_LINE.match(line)
            if match:
                args[match.group(1)] = match.group(2).strip()
    return " ".join(s.strip() for s in summary if s.strip()), args
