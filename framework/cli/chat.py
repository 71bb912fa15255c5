"""`framework chat`: talk to an agent. Each turn is stored when it ends, so leaving at any time
(Ctrl-C, Ctrl-D, /quit) loses nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from framework.cli import render
from framework.cli.options import common, load_agent_class

if TYPE_CHECKING:
    from framework.gate import ApprovalRequest
    from framework.session import Session
    from framework.turn import Turn

HELP = """commands:
  /why       what memory the last turn used, and why
  /steps     every step of the last turn (intent, recall, tools, outcome, memory ops)
  /memories  everything remembered about you (active)
  /forget N  forget memory #N
  /pending   memory writes waiting for your approval; /approve N and /reject N decide
  /quit      leave (Ctrl-D and Ctrl-C work too)"""


@click.command()
@click.option(
    "--agent",
    "agent_spec",
    default="assistant",
    show_default=True,
    help="a file in agents/ (assistant, devops), a path to a .py file, or module:Class",
)
@click.option("--user", default=None, help="who you are; memories are kept per user (default: $USER)")
@click.option("--session", "session_id", default=None, help="resume a session by id (default: a new one)")
@click.option(
    "--model", default=None, help="any litellm model string, e.g. openai/gpt-4o-mini, ollama/llama3"
)
@click.option(
    "--show",
    type=click.Choice(["answer", "memory", "steps"]),
    default="memory",
    show_default=True,
    help="after each answer show only it, also memory writes, or every step",
)
@common
def chat(
    agent_spec: str,
    user: str | None,
    session_id: str | None,
    model: str | None,
    show: str,
    home: str | None,
    embedder: str | None,
) -> None:
    """Talk to an agent that remembers you across sessions."""
    import getpass

    from framework.errors import ConfigurationError, DefinitionError, FrameworkError, InvalidInput

    cls = load_agent_class(agent_spec)
    user = user or getpass.getuser()

    def approve(request: ApprovalRequest) -> bool:
        args = ", ".join(f"{k}={v!r}" for k, v in request.arguments.items())
        click.echo(click.style(f"  approval needed: {request.tool}({args})", fg="yellow"))
        for reason in request.reasons:
            click.echo(click.style(f"    {reason}", fg="yellow"))
        try:
            reply = input("  approve? [y/N] ")
        except EOFError:
            return False
        return reply.strip().lower() in ("y", "yes")

    try:
        agent = cls(model=model, home=home, embedder=embedder, approve=approve)
    except (ConfigurationError, DefinitionError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        session = agent.session(user, session_id)
    except InvalidInput as exc:
        agent.close()
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"framework chat — agent {agent.name}, user {user}, session {session.session_id}, "
        f"model {getattr(agent.llm, 'name', '?')}"
    )
    for problem in agent.memory.procedures.problems:
        click.echo(click.style(f"  skipped: {problem}", fg="red"))
    click.echo("type /help for commands; /quit, Ctrl-D or Ctrl-C to leave")
    last: Turn | None = None
    try:
        while True:
            try:
                line = input("you> ")
            except EOFError:
                click.echo()
                break
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not _command(text, session, last):
                    break
                continue
            try:
                last = session.send(text)
            except ConfigurationError as exc:
                raise click.ClickException(str(exc)) from None
            except InvalidInput as exc:  # too long, a NUL: say so and go on
                click.echo(click.style(f"  ! {exc}", fg="red"))
                continue
            except FrameworkError as exc:
                click.echo(click.style(f"  ! {type(exc).__name__}: {exc}", fg="red"))
                continue
            render.answer(last)
            if show == "steps":
                render.steps(last)
            elif show == "memory":
                render.memory_ops(last)
    except KeyboardInterrupt:
        click.echo()
    finally:
        agent.close()
    left = getattr(agent.llm, "remaining", 0)  # a scripted model (scripted:FILE) not fully used
    if left:
        click.echo(click.style(f"  note: the scripted model has {left} unused repl(ies)", fg="yellow"))
    click.echo(f"bye — session {session.session_id} is saved; resume it with --session {session.session_id}")


def _command(text: str, session: Session, last: Turn | None) -> bool:
    """Run a /command; False means leave."""
    name, _, arg = text.partition(" ")
    if name in ("/quit", "/exit"):
        return False
    if name == "/help":
        click.echo(HELP)
    elif name in ("/why", "/steps"):
        if last is None:
            click.echo("  no turn yet")
        elif name == "/why":
            render.recollection(last)
        else:
            render.steps(last)
    elif name == "/memories":
        if session.user_id is None:
            click.echo("  anonymous session: nothing is remembered")
            return True
        entries = session.memory.long_term.active(session.user_id)
        for m in entries:
            click.echo(f"  #{m.id} {m.memory_type} ({m.confidence:.2f}, {m.source}): {m.content}")
        if not entries:
            click.echo("  nothing remembered yet")
    elif name == "/pending" and session.user_id is not None:
        rows = session.memory.queue.pending(session.user_id)
        for row in rows:
            click.echo(f"  pending {row.id}: {row.action} {row.candidate.get('content')!r} — {row.reason}")
        if not rows:
            click.echo("  nothing pending")
    elif name in ("/approve", "/reject") and arg.strip().isdigit() and session.user_id is not None:
        try:
            ops = session.memory.approve(session.user_id, int(arg), approved=name == "/approve")
        except KeyError:
            click.echo(f"  no pending write {arg}")
            return True
        for op in ops:
            click.echo(f"  memory {op.kind} #{op.memory_id}: {op.content}")
    elif name == "/forget" and arg.strip().isdigit() and session.user_id is not None:
        done = session.memory.long_term.forget(
            session.user_id, int(arg), actor="user", reason="/forget in chat"
        )
        click.echo(f"  forgot #{arg}" if done else f"  no active memory #{arg}")
    else:
        click.echo(f"  unknown command {text!r}\n{HELP}")
    return True
