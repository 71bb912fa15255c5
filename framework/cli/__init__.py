"""The `framework` command. Only click is imported here: `framework --help` must stay fast, so
every command imports the runtime (sqlmodel, litellm, torch) inside its own body."""

from __future__ import annotations

import click

from framework.cli.bench import bench
from framework.cli.chat import chat
from framework.cli.demo import demo
from framework.cli.doctor import doctor
from framework.cli.keys import keys
from framework.cli.mcp import mcp
from framework.cli.memory import config, memory
from framework.cli.serve import serve
from framework.cli.skills import skills


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="framework", prog_name="framework")
def main() -> None:
    """An agent runtime that owns a governed memory.

    \b
    framework demo                      the runtime end to end, offline (scripted model)
    framework chat --agent assistant    talk to an agent (needs a model: --model or FRAMEWORK_MODEL)
    framework doctor                    check the model, embedder, stores and permissions
    framework memory list --user ada    what is remembered about a user, and the audit trail
    framework bench overhead            the runtime's own cost per turn
    framework skills list               the skills and policies that load, and each problem
    framework mcp serve --user ada      the memory as an MCP server (stdio; --transport http)
    framework serve --agent assistant   the agent over HTTP (OpenAI-compatible; memory REST)
    """


main.add_command(chat)
main.add_command(demo)
main.add_command(doctor)
main.add_command(bench)
main.add_command(memory)
main.add_command(config)
main.add_command(skills)
main.add_command(mcp)
main.add_command(keys)
main.add_command(serve)
