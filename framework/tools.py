"""`@tool`: turn an Agent method into a tool the model can call, with a JSON schema derived
from its type hints and docstring (Google, NumPy or Sphinx style: each parameter's description is
read by docstring_parser). A `ToolSpec` is what the runtime knows of any tool: a method's, or one
an MCP server lists (framework.mcp), which keeps the server's own JSON schema."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from framework.errors import DefinitionError


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: type[BaseModel]
    function: Callable[..., Any]
    effects: frozenset[str] = frozenset()  # what the tool does, for policies (e.g. "deletes_files")
    # A tool defined elsewhere (an MCP server) keeps its own JSON schema: sent to the model as it
    # is and checked with jsonschema; `parameters` is then a model that accepts anything.
    input_schema: dict[str, Any] | None = None
    # Where its results come from, for memory provenance (e.g. "tool:mcp/files/read_file");
    # None: the tool's name and call number.
    origin: str | None = None

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema sent to the model."""
        params = (
            dict(self.input_schema) if self.input_schema is not None else self.parameters.model_json_schema()
        )
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate and coerce arguments; raises ValueError naming the bad argument."""
        if self.input_schema is not None:
            return _validate_json(self.name, self.input_schema, arguments)
        try:
            return dict(self.parameters.model_validate(arguments))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"invalid arguments for {self.name}: {problems}") from None


_EFFECT = re.compile(r"^[a-z][a-z0-9_]*$")


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    effects: set[str] | frozenset[str] | list[str] | tuple[str, ...] = (),
) -> Any:
    """Mark a method of an Agent subclass as a tool. Use bare (`@tool`), or with a name and the
    effects it has (`@tool(effects={"deletes_files"})`): policies can match declared effects, so a
    tool that deletes is governed without guessing from its name."""
    if isinstance(effects, str):
        raise DefinitionError(f"@tool(effects=...) takes a set of names, e.g. {{{effects!r}}}, not a string")
    bad = [e for e in effects if not isinstance(e, str) or not _EFFECT.match(e)]
    if bad:
        raise DefinitionError(f"@tool(effects=...): {bad!r} are not effect names (lower_case_words)")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__framework_tool__ = name or fn.__name__  # type: ignore[attr-defined]
        fn.__framework_effects__ = frozenset(effects)  # type: ignore[attr-defined]
        return fn

    return mark(function) if function is not None else mark


def build_spec(fn: Callable[..., Any], name: str, owner: str) -> ToolSpec:
    """Build a ToolSpec from a (bound or unbound) function; errors name the class and method."""
    where = f"{owner}.{fn.__name__}"
    doc = inspect.getdoc(fn)
    if not doc:
        raise DefinitionError(f"tool {where} needs a docstring: the model reads it to decide when to call it")
    try:
        description, arg_docs = parse_docstring(doc)
    except docstring_parser.ParseError as exc:
        raise DefinitionError(f"tool {where}: cannot read its docstring ({exc})") from None
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
    effects = frozenset(getattr(fn, "__framework_effects__", frozenset()))
    return ToolSpec(name=name, description=description, parameters=model, function=fn, effects=effects)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (summary and body, without sections such as Returns or Raises) and each
    parameter's description, from a Google, NumPy or Sphinx (reST) style docstring."""
    parsed = docstring_parser.parse(doc)  # tries each style, keeps the one that reads best
    text = " ".join(part for part in (parsed.short_description, parsed.long_description) if part)
    args = {p.arg_name: _one_line(p.description) for p in parsed.params if p.description}
    return _one_line(text), args


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def any_arguments(name: str) -> type[BaseModel]:
    """The `parameters` of a tool whose arguments a JSON schema checks (`ToolSpec.input_schema`)."""
    return create_model(f"{name}_arguments", __config__=ConfigDict(extra="allow"))


def _validate_json(name: str, schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """Check arguments against a tool's own JSON schema (no coercion: what passes is sent as is)."""
    import jsonschema  # loaded only for tools that bring their own schema

    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(
        validator_class(schema).iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if errors:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}" for e in errors
        )
        raise ValueError(f"invalid arguments for {name}: {problems}")
    return dict(arguments)
