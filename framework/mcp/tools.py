"""MCP servers' tools as the agent's tools: one ToolSpec per listed tool.

Naming: `<server>__<tool>` (e.g. `files__read_file`), characters other than letters, digits,
`_` and `-` replaced by `_`, at most 64 (what model APIs accept), so two servers' tools, or a
server's and a method's, never share a name; a policy can govern a whole server with
`tools: ["files__*"]`. Schemas are the server's (`ToolSpec.input_schema`, checked with
jsonschema before the gate sees the call). Effects: those the server entry declares for the
tool, plus `destructive` when the server annotates the tool `destructiveHint: true`. An
annotation can only add an effect, never remove a declared one: annotations are the server's
word, and the server is not trusted. Results are data: the text content of the result is the
tool's result; `isError` results are ToolFailures; and each spec carries `origin`
"tool:mcp/<server>/<tool>" for memory provenance. Every call goes through the agent's Toolbox,
so the policy gate sees it like a method's (framework.steps.act).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigurationError, DefinitionError, ToolFailure
from framework.mcp.servers import MCPServer, declared_servers
from framework.tools import ToolSpec, any_arguments

if TYPE_CHECKING:
    from mcp.types import CallToolResult, Tool

    from framework.mcp.client import MCPConnections

SEPARATOR = "__"
DESTRUCTIVE = "destructive"  # the effect a `destructiveHint: true` annotation adds
MAX_NAME = 64
MAX_DESCRIPTION = 1024  # a server's description goes into the prompt: keep it bounded
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def tool_name(server: str, tool: str) -> str:
    """The name the model sees for `tool` of `server`."""
    return _UNSAFE.sub("_", f"{server}{SEPARATOR}{tool}")[:MAX_NAME]


class MCPTools:
    """An agent's MCP servers, connected, and their tools as ToolSpecs (`specs`)."""

    def __init__(self, connections: MCPConnections, listed: dict[str, list[Tool]]) -> None:
        self.connections = connections
        self.specs: dict[str, ToolSpec] = {}
        try:
            for server in connections.servers.values():
                for tool in _exposed(server, listed[server.name]):
                    spec = self._spec(server, tool)
                    if spec.name in self.specs:
                        raise DefinitionError(
                            f"MCP server {server.name!r}: two tools become {spec.name!r}; rename one, "
                            "or expose one of them only (tools: [...])"
                        )
                    self.specs[spec.name] = spec
        except Exception:
            connections.close()
            raise

    @classmethod
    def connect(cls, owner: type, given: Any, home: Path) -> MCPTools | None:
        """Connect the servers an agent class declares (or `given`, the constructor's argument,
        plus $FRAMEWORK_HOME/mcp.yaml); None when there are none (no thread is started)."""
        servers = declared_servers(owner, given, home)
        if not servers:
            return None
        from framework.mcp.client import MCPConnections  # the SDK loads only for agents that use it

        connections = MCPConnections(servers, home / "logs")
        return cls(connections, connections.connect())

    def _spec(self, server: MCPServer, tool: Tool) -> ToolSpec:
        name = tool_name(server.name, tool.name)
        effects = set(server.effects.get(tool.name, frozenset()))
        if tool.annotations is not None and tool.annotations.destructive_hint is True:
            effects.add(DESTRUCTIVE)
        schema = dict(tool.input_schema or {"type": "object"})
        schema.pop("$schema", None)  # model APIs want a bare schema (then checked by the latest draft)
        _check_schema(server, tool.name, schema)
        description = inspect.cleandoc(tool.description or tool.title or tool.name)[:MAX_DESCRIPTION]
        connections, server_name, tool_id = self.connections, server.name, tool.name

        def run(**arguments: Any) -> str:
            return result_text(connections.call(server_name, tool_id, arguments), server_name, tool_id)

        return ToolSpec(
            name=name,
            description=f"{description} (tool {tool.name!r} of MCP server {server.name!r})",
            parameters=any_arguments(name),
            function=run,
            effects=frozenset(effects),
            input_schema=schema,
            origin=f"tool:mcp/{server.name}/{tool.name}",
        )

    def close(self) -> None:
        self.connections.close()


def with_mcp_tools(specs: dict[str, ToolSpec], mcp: MCPTools | None) -> dict[str, ToolSpec]:
    """An agent's method tools and its MCP tools together; a name used by both is an error."""
    if mcp is None:
        return specs
    clash = sorted(set(specs) & set(mcp.specs))
    if clash:
        mcp.close()
        raise DefinitionError(f"tool name(s) {clash} are both a method's and an MCP server's; rename one")
    return {**specs, **mcp.specs}


def _exposed(server: MCPServer, tools: Iterable[Tool]) -> list[Tool]:
    """The listed tools the entry exposes; declarations naming a tool the server does not list
    are errors (a declared effect must not silently govern nothing)."""
    listed = {t.name: t for t in tools}
    for what, names in (("tools", server.tools or ()), ("effects", server.effects)):
        missing = sorted(set(names) - set(listed))
        if missing:
            raise ConfigurationError(
                f"MCP server {server.name!r} ({server.where}): {what} names {missing}, which it does not "
                f"list; it lists {sorted(listed)}"
            )
    return [t for name, t in listed.items() if server.tools is None or name in server.tools]


def _check_schema(server: MCPServer, tool: str, schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigurationError(
            f"MCP server {server.name!r}: tool {tool!r} has an invalid input schema ({exc.message})"
        ) from None


def result_text(result: CallToolResult, server: str, tool: str) -> str:
    """A tool result as the text the model is shown: its text blocks (and text resources) in
    order, other blocks named; structured content as JSON when there is no text. An error
    result is a ToolFailure (the tool ran and failed)."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)  # type: ignore[union-attr]
        elif kind == "resource" and hasattr(getattr(block, "resource", None), "text"):
            parts.append(block.resource.text)  # type: ignore[union-attr]
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'content'} {getattr(block, 'mime_type', '') or ''}]".replace(" ]", "]"))
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, default=str)
    if result.is_error:
        raise ToolFailure(f"MCP server {server!r}: {tool}: {text or 'failed (no message)'}")
    return text
