"""A small real MCP server for the tests (stdio): files under $FILES_ROOT.

Tools: `read_file`, `delete_file` (annotated destructive), `echo`, `broken` (always an error
result) and `slow` (sleeps). Every call that reaches it is appended to $FILES_ROOT/calls.log, so
a test can tell a call the gate stopped from one the server refused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

ROOT = Path(os.environ.get("FILES_ROOT", "."))
server = MCPServer("files")


def _log(line: str) -> None:
    with (ROOT / "calls.log").open("a", encoding="utf-8") as f:
        f.write(line + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_file(path: str) -> str:
    """Read a text file.

    Args:
        path: the file, relative to the server's root
    """
    _log(f"read_file {path}")
    return (ROOT / path).read_text(encoding="utf-8")


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def delete_file(path: str) -> str:
    """Delete a file.

    Args:
        path: the file, relative to the server's root
    """
    _log(f"delete_file {path}")
    (ROOT / path).unlink()
    return f"deleted {path}"


@server.tool()
def echo(text: str, times: int = 1) -> str:
    """Say the text back.

    Args:
        text: what to say
        times: how many times
    """
    _log(f"echo {text}")
    return " ".join([text] * times)


@server.tool()
def broken(reason: str) -> str:
    """Always fails."""
    _log(f"broken {reason}")
    raise ToolError(f"broken on purpose: {reason}")


@server.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    _log(f"slow {seconds}")
    time.sleep(seconds)
    return f"slept {seconds}"


if __name__ == "__main__":
    server.run("stdio")
