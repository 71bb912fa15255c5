"""MCP servers an agent declares: in code, or in YAML.

In code, as a class attribute or a constructor argument:

    class Assistant(Agent):
        mcp_servers = [
            MCPServer.stdio("files", command=["python", "files_server.py"], env={"ROOT": "/srv"},
                            effects={"delete_file": ["deletes_files"]}),
            MCPServer.http("search", url="https://search.example/mcp",
                           headers={"Authorization": "Bearer ${SEARCH_TOKEN}"}),
        ]

or `mcp_servers = "mcp.yaml"` (a file relative to the class's file), and for every agent of a
home, `$FRAMEWORK_HOME/mcp.yaml`. A file holds a `mcp_servers:` list whose entries take the same
fields (`command` as a list or one string; `${NAME}` in `env` and `headers` values is read from
the environment, so a secret need not be written in the file). Nothing here starts a process:
framework.mcp.client does, when the agent is built.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from framework.errors import ConfigurationError, DefinitionError

HOME_FILE = "mcp.yaml"  # $FRAMEWORK_HOME/mcp.yaml: servers for every agent of the home
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_EFFECT = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELDS = {
    "name",
    "command",
    "env",
    "cwd",
    "url",
    "headers",
    "effects",
    "tools",
    "timeout_s",
    "connect_timeout_s",
}


@dataclass(frozen=True)
class MCPServer:
    """One MCP server: how to reach it, the effects its tools have (for policies), which of its
    tools to expose (None: all) and how long to wait for it."""

    name: str
    transport: Literal["stdio", "http"]
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a token
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a token
    effects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    tools: frozenset[str] | None = None
    timeout_s: float = 30.0  # one tool call
    connect_timeout_s: float = 20.0  # start, handshake and tool listing

    @classmethod
    def stdio(
        cls,
        name: str,
        *,
        command: Sequence[str] | str,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        effects: Mapping[str, Iterable[str]] | None = None,
        tools: Iterable[str] | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 20.0,
    ) -> MCPServer:
        """A server the agent starts as a subprocess and talks to over stdin/stdout. It gets PATH,
        HOME, USER, SHELL, TERM and LOGNAME from this process, plus `env`."""
        words = tuple(shlex.split(command) if isinstance(command, str) else command)
        if not words or not all(isinstance(w, str) and w for w in words):
            raise DefinitionError(f"MCP server {name!r}: command must be a non-empty list of words")
        return cls(
            _checked_name(name),
            "stdio",
            command=words,
            env=dict(env or {}),
            cwd=str(cwd) if cwd is not None else None,
            effects=_effects(name, effects),
            tools=frozenset(tools) if tools is not None else None,
            timeout_s=_positive(name, "timeout_s", timeout_s),
            connect_timeout_s=_positive(name, "connect_timeout_s", connect_timeout_s),
        )

    @classmethod
    def http(
        cls,
        name: str,
        *,
        url: str,
        headers: Mapping[str, str] | None = None,
        effects: Mapping[str, Iterable[str]] | None = None,
        tools: Iterable[str] | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 20.0,
    ) -> MCPServer:
        """A server reached over streamable HTTP at `url` (headers: e.g. an Authorization)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise DefinitionError(
                f"MCP server {name!r}: url must start with http:// or https://, got {url!r}"
            )
        return cls(
            _checked_name(name),
            "http",
            url=url,
            headers=dict(headers or {}),
            effects=_effects(name, effects),
            tools=frozenset(tools) if tools is not None else None,
            timeout_s=_positive(name, "timeout_s", timeout_s),
            connect_timeout_s=_positive(name, "connect_timeout_s", connect_timeout_s),
        )

    @property
    def where(self) -> str:
        """How it is reached, for messages (never the headers or env values: they may be secret)."""
        if self.transport == "stdio":
            return f"command `{shlex.join(self.command)}`"
        return f"URL {self.url}"


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"MCP server name {name!r}: use 1-32 letters, digits, '_' or '-' (it prefixes its tools' names)"
        )
    return name


def _positive(name: str, setting: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DefinitionError(
            f"MCP server {name!r}: {setting} must be a number of seconds > 0, got {value!r}"
        )
    return float(value)


def _effects(name: str, effects: Mapping[str, Iterable[str]] | None) -> dict[str, frozenset[str]]:
    """Per tool, the effects it declares: `{delete_file: [deletes_files]}`."""
    if effects is None:
        return {}
    if not isinstance(effects, Mapping):
        raise DefinitionError(f"MCP server {name!r}: effects must map tool name -> list of effects")
    checked: dict[str, frozenset[str]] = {}
    for tool, names in effects.items():
        listed = [names] if isinstance(names, str) else list(names or [])
        bad = [e for e in listed if not isinstance(e, str) or not _EFFECT.match(e)]
        if bad:
            raise DefinitionError(
                f"MCP server {name!r}: effects of {tool!r}: {bad!r} are not effect names (lower_case_words)"
            )
        checked[str(tool)] = frozenset(listed)
    return checked


def load_servers(path: Path) -> list[MCPServer]:
    """The servers a YAML file declares (a mapping with a `mcp_servers:` list, or the bare list).
    Errors name the file and the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read MCP servers ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc})") from None
    entries = data.get("mcp_servers") if isinstance(data, dict) else data
    if data is None or entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigurationError(f"{path}: expected `mcp_servers:` with a list of servers")
    return [server_from_mapping(entry, f"{path}: mcp_servers[{i}]") for i, entry in enumerate(entries)]


def server_from_mapping(entry: Any, where: str) -> MCPServer:
    """One YAML entry as an MCPServer (`command` for stdio, `url` for HTTP)."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: expected a mapping with name and command or url")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {unknown}; known: {sorted(_FIELDS)}")
    if ("command" in entry) == ("url" in entry):
        raise ConfigurationError(f"{where}: give either command (stdio) or url (streamable HTTP)")
    common: dict[str, Any] = {
        k: entry[k] for k in ("effects", "tools", "timeout_s", "connect_timeout_s") if k in entry
    }
    try:
        if "command" in entry:
            return MCPServer.stdio(
                entry.get("name"),  # type: ignore[arg-type]
                command=entry["command"],
                env=_expanded(entry.get("env"), where, "env"),
                cwd=entry.get("cwd"),
                **common,
            )
        return MCPServer.http(
            entry.get("name"),  # type: ignore[arg-type]
            url=entry["url"],
            headers=_expanded(entry.get("headers"), where, "headers"),
            **common,
        )
    except (DefinitionError, TypeError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _expanded(values: Any, where: str, what: str) -> dict[str, str]:
    """`${NAME}` in each value replaced by that environment variable (an unset one is an error)."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigurationError(f"{where}: {what} must be a mapping of name: value")

    def variable(match: re.Match[str]) -> str:
        if match.group(1) not in os.environ:
            raise ConfigurationError(f"{where}: {what} uses ${{{match.group(1)}}}, which is not set")
        return os.environ[match.group(1)]

    return {str(k): _VARIABLE.sub(variable, str(v)) for k, v in values.items()}


def declared_servers(
    owner: type, given: Sequence[MCPServer] | str | Path | None, home: Path
) -> list[MCPServer]:
    """The servers an agent gets: `given` (the constructor's argument) or else the class's
    `mcp_servers` (a list, or a YAML file relative to the file of the class declaring it), then
    those of `$FRAMEWORK_HOME/mcp.yaml`. Two servers of one name are an error."""
    declared = given if given is not None else getattr(owner, "mcp_servers", None)
    servers: list[MCPServer] = []
    if isinstance(declared, str | Path):
        path = Path(declared).expanduser()
        if not path.is_absolute() and given is None:
            declarer = next(c for c in owner.__mro__ if "mcp_servers" in vars(c))
            path = Path(inspect.getfile(declarer)).resolve().parent / path
        if not path.is_file():
            raise DefinitionError(f"{owner.__name__}: mcp_servers file {path} does not exist")
        servers += load_servers(path)
    elif declared is not None:
        bad = [s for s in declared if not isinstance(s, MCPServer)]
        if bad:
            raise DefinitionError(f"{owner.__name__}.mcp_servers: expected MCPServer entries, got {bad!r}")
        servers += list(declared)
    if (home / HOME_FILE).is_file():
        servers += load_servers(home / HOME_FILE)
    names = [s.name for s in servers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DefinitionError(f"{owner.__name__}: more than one MCP server named {', '.join(twice)}")
    return servers
