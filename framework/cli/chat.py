"""`framework chat`: talk to an agent. Answers are printed as they stream; each turn is stored
when its answer is complete and its memory work is queued in the store, so leaving at any time
(Ctrl-D, /quit) loses nothing. Ctrl-C cancels the turn that is running and the chat goes on.

On a terminal the line editor is prompt_toolkit's, with a history kept in the home folder; piped
input is read line by line. Setup problems (no model, a missing API key, an unreachable store, a
bad config file) are one line naming the fix; `--debug` shows the traceback."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from framework.cli import render
from framework.cli.options import agent_option, common, load_agent_class

if TYPE_CHECKING:
    from framework.gate import ApprovalRequest
    from framework.session import Session
    from framework.turn import Turn

HELP = """commands:
  /why        what memory the last turn used, and why
  /steps      every step of the last turn (recall, tools, outcome, intent, memory ops)
  /memories   everything remembered about you (active)
  /forget N   forget memory #N
  /pending    memory writes waiting for your approval; /approve N and /reject N decide
  /sessions   your recent sessions; /resume ID goes back to one
  /quit       leave (Ctrl-D works too; Ctrl-C cancels a running answer)"""


@click.command()
@agent_option
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
@click.option("--debug", is_flag=True, help="show tracebacks and the dependencies' own output")
@common
def chat(
    agent_spec: str,
    user: str | None,
    session_id: str | None,
    model: str | None,
    show: str,
    debug: bool,
    home: str | None,
    embedder: str | None,
) -> None:
    """Talk to an agent that remembers you across sessions."""
    import getpass

    if not debug:
        quiet_dependencies()
    cls = load_agent_class(agent_spec)
    user = user or getpass.getuser()
    with one_line_errors(debug):
        agent = cls(model=model, home=home, embedder=embedder, approve=_approve)
    with one_line_errors(debug, cleanup=agent.close):
        check_model_ready(agent.llm)
        session = agent.session(user, session_id)
    click.echo(
        f"framework chat — agent {agent.name}, user {user}, session {session.session_id}, "
        f"model {getattr(agent.llm, 'name', '?')}"
    )
    for problem in agent.memory.procedures.problems:
        click.echo(click.style(f"  skipped: {problem}", fg="red"))
    click.echo("type /help for commands; Ctrl-C cancels an answer; /quit or Ctrl-D to leave")
    # Ctrl-C is this program's to handle even when it was started with SIGINT ignored (as a shell
    # without job control starts a background command, and its children inherit): Python then
    # installs no handler of its own, and Ctrl-C would do nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    read = line_reader(agent.settings.home / "chat_history")
    last: Turn | None = None
    interrupted = False
    try:
        while True:
            try:
                line = read("you> ")
            except EOFError:
                click.echo()
                break
            except KeyboardInterrupt:  # at the prompt: a second Ctrl-C in a row leaves
                if interrupted:
                    break
                interrupted = True
                click.echo("  (Ctrl-C again, Ctrl-D or /quit to leave)")
                continue
            interrupted = False
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                session, keep = _command(text, session, last)
                if not keep:
                    break
                continue
            with one_line_errors(debug, fatal=False):
                last = run_turn(session, text, show) or last
    finally:
        agent.close()
    left = getattr(agent.llm, "remaining", 0)  # a scripted model (scripted:FILE) not fully used
    if left:
        click.echo(click.style(f"  note: the scripted model has {left} unused repl(ies)", fg="yellow"))
    click.echo(f"bye — session {session.session_id} is saved; resume it with --session {session.session_id}")


def run_turn(session: Session, text: str, show: str) -> Turn | None:
    """One turn, printed as it streams; None when the user cancelled it (Ctrl-C)."""
    from framework.events import ApprovalNeeded, TextDelta, ToolCallFinished, ToolCallStarted, TurnFinished

    status = _Status()
    status.show("recalling…")
    stream = session.stream(text)
    started = False
    turn: Turn | None = None
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                if not started:
                    status.clear()
                    click.echo(click.style("agent> ", fg="green", bold=True), nl=False)
                    started = True
                click.echo(event.text, nl=False)
                sys.stdout.flush()
            elif isinstance(event, ToolCallStarted):
                status.show(f"calling {event.name}…")
            elif isinstance(event, ApprovalNeeded):
                status.clear()
            elif isinstance(event, ToolCallFinished):
                status.clear()
                if started:
                    click.echo()
                    started = False
                render.tool_call(event.record)
                status.show("thinking…")
            elif isinstance(event, TurnFinished):
                turn = event.turn
    except KeyboardInterrupt:
        stream.close()  # the turn stops where it stands; what ran stays on record
        status.clear()
        click.echo(click.style("\n  (cancelled)", fg="yellow"))
        return None
    finally:
        status.clear()
    if turn is None:
        return None
    if not started:  # an empty answer
        click.echo(click.style("agent> ", fg="green", bold=True), nl=False)
    click.echo()
    if turn.failed:
        click.echo(click.style(f"  ! {turn._error}", fg="red"))
    if show == "steps":
        render.steps(turn, tools=False)
    elif show == "memory":
        render.memory_ops(turn)
    return turn


class _Status:
    """A transient status line (rich) while nothing is being printed; nothing when not a terminal."""

    def __init__(self) -> None:
        self._live: Any = None
        self.enabled = sys.stdout.isatty()

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        self.clear()
        from rich.console import Console

        self._live = Console(stderr=False).status(text, spinner="dots")
        self._live.start()

    def clear(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _approve(request: ApprovalRequest) -> bool:
    args = ", ".join(f"{k}={v!r}" for k, v in request.arguments.items())
    click.echo(click.style(f"  approval needed: {request.tool}({args})", fg="yellow"))
    for reason in request.reasons:
        click.echo(click.style(f"    {reason}", fg="yellow"))
    try:
        reply = input("  approve? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        return False
    return reply.strip().lower() in ("y", "yes")


def line_reader(history: Path) -> Callable[[str], str]:
    """prompt_toolkit with a persistent history on a terminal; plain lines from a pipe."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return input
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    return lambda text: prompt.prompt(text)


@contextmanager
def one_line_errors(
    debug: bool, cleanup: Callable[[], None] | None = None, fatal: bool = True
) -> Iterator[None]:
    """Setup and model errors in one line that names the fix; a traceback only with --debug."""
    from framework.errors import FrameworkError, InvalidInput, ModelNotConfigured

    try:
        yield
    except InvalidInput as exc:
        if fatal:
            if cleanup:
                cleanup()
            raise click.ClickException(str(exc)) from None
        click.echo(click.style(f"  ! {exc}", fg="red"))
    except FrameworkError as exc:
        if debug:
            raise
        if fatal or isinstance(exc, ModelNotConfigured):
            if cleanup:
                cleanup()
            raise click.ClickException(_one_line(str(exc))) from None
        click.echo(click.style(f"  ! {type(exc).__name__}: {_one_line(str(exc))}", fg="red"))
    except Exception as exc:  # a store the driver cannot reach (sqlalchemy, psycopg): say which
        if debug or not type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
            raise
        if cleanup:
            cleanup()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(
            f"cannot open the memory store: {first} "
            "(check database_url / FRAMEWORK_DATABASE_URL; --debug shows more)"
        ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_model_ready(model: Any) -> None:
    """Before the first turn: a litellm model whose provider key is missing is refused now, in one
    line naming the variable (not after a request that waits for the provider to say so)."""
    from framework.errors import ModelNotConfigured
    from framework.llm import LiteLLMModel
    from framework.llm.litellm_model import import_litellm, key_variable

    if not isinstance(model, LiteLLMModel) or model.api_key:
        return
    try:
        missing = import_litellm().validate_environment(model.name).get("missing_keys") or []
    except Exception:  # litellm cannot tell: the first request will say
        return
    if missing:
        _, variable = key_variable(model.name)
        local = " (any value will do for a local server)" if model.api_base else ""
        raise ModelNotConfigured(
            f"model {model.name!r} needs {variable}: set it{local}, or choose another model with "
            f"--model or FRAMEWORK_MODEL"
        )


def quiet_dependencies() -> None:
    """Nothing from a dependency reaches the terminal uninvited: progress bars of the embedder's
    download or load, library warnings and retry chatter (the framework's log keeps what matters)."""
    import logging
    import warnings

    for name, value in {
        "TQDM_DISABLE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    }.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore")
    for name in (
        "sentence_transformers",
        "transformers",
        "huggingface_hub",
        "instructor",
        "LiteLLM",
        "httpx",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)


def _command(text: str, session: Session, last: Turn | None) -> tuple[Session, bool]:
    """Run a /command: the session to go on with, and False to leave."""
    name, _, arg = text.partition(" ")
    if name in ("/quit", "/exit"):
        return session, False
    if name == "/sessions" and session.user_id is not None:
        for state in session.memory.working.sessions(session.user_id)[:20]:
            here = " (this one)" if state.session_id == session.session_id else ""
            said = next((line.content for line in state.conversation if line.role == "user"), "")
            when = state.updated_at.strftime("%Y-%m-%d %H:%M")
            click.echo(
                f"  {state.session_id}{here}  {when}  {len(state.conversation) // 2} turns  {said[:50]!r}"
            )
        return session, True
    if name == "/resume" and arg.strip():
        from framework.errors import InvalidInput
        from framework.session import Session as Resumed

        try:
            resumed = Resumed(session.runtime, session.user_id, arg.strip())
        except InvalidInput as exc:
            click.echo(click.style(f"  ! {exc}", fg="red"))
            return session, True
        state = session.memory.load_state(resumed.user_id, resumed.session_id)
        click.echo(f"  resumed session {resumed.session_id} ({len(state.conversation) // 2} turns kept)")
        return resumed, True
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
            return session, True
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
            return session, True
        for op in ops:
            click.echo(f"  memory {op.kind} #{op.memory_id}: {op.content}")
    elif name == "/forget" and arg.strip().isdigit() and session.user_id is not None:
        done = session.memory.long_term.forget(
            session.user_id, int(arg), actor="user", reason="/forget in chat"
        )
        click.echo(f"  forgot #{arg}" if done else f"  no active memory #{arg}")
    else:
        click.echo(f"  unknown command {text!r}\n{HELP}")
    return session, True
