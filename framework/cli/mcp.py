"""`framework mcp serve`: governed memory as an MCP server, over stdio or streamable HTTP."""

from __future__ import annotations

import click

from framework.cli.options import common, load_agent_class


@click.group()
def mcp() -> None:
    """Model Context Protocol: framework's memory for MCP clients (Claude Desktop, IDEs, agents)."""


@mcp.command()
@click.option(
    "--agent",
    "agent_spec",
    default=None,
    help="serve the memory as this agent has it (its write policy, skills, policies): a name from "
    "agents/, FILE.py or module:Class. Default: the default write policy.",
)
@click.option("--user", default=None, help="stdio: the user every request acts for (required there)")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="http: the address to listen on")
@click.option("--port", type=int, default=8000, show_default=True, help="http: the port to listen on")
@common
def serve(
    agent_spec: str | None,
    user: str | None,
    transport: str,
    host: str,
    port: int,
    home: str | None,
    embedder: str | None,
) -> None:
    """Serve recall, remember, forget, list_memories, export and pending to MCP clients.

    \b
    stdio: one user, given by --user (an MCP client starts this command itself).
    http:  streamable HTTP at http://HOST:PORT/mcp; each request's user comes from its API key
           (Authorization: Bearer <key>; create one with `framework keys create --user U`).
    """
    if transport == "stdio" and not user:
        raise click.UsageError("--user is required with --transport stdio: it is whose memory is served")
    if transport == "http" and user:
        raise click.UsageError("--user is for stdio; over HTTP each API key names its user")
    from framework.config import load_settings
    from framework.errors import FrameworkError
    from framework.serve.mcp_server import serve as run

    agent_class = load_agent_class(agent_spec) if agent_spec else None
    try:
        settings = load_settings(home, embedder=embedder)
        if transport == "http":
            click.echo(f"serving memory over MCP at http://{host}:{port}/mcp (Ctrl-C to stop)", err=True)
        run(settings, agent_class=agent_class, user=user, transport=transport, host=host, port=port)  # type: ignore[arg-type]
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None
