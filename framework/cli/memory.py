"""`framework memory ...` (inspect, export, forget, delete a user's memory) and `framework config`."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from framework.cli.options import common

if TYPE_CHECKING:
    from framework.memory.longterm.records import MemoryEntry
    from framework.memory.manager import MemoryManager


def _manager(home: str | None, embedder: str | None) -> MemoryManager:
    from framework.config import load_settings
    from framework.errors import FrameworkError
    from framework.memory.manager import MemoryManager

    try:
        return MemoryManager(load_settings(home, embedder=embedder))
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def memory() -> None:
    """Inspect and govern what is remembered, per user."""


def _line(m: MemoryEntry) -> str:
    extra = (
        f" [{m.status}" + (f" → #{m.superseded_by}" if m.superseded_by else "") + "]"
        if m.status != "active"
        else ""
    )
    tags = f" {{{', '.join(m.tags)}}}" if m.tags else ""
    return f"#{m.id} {m.memory_type} {m.confidence:.2f} {m.source}{extra}{tags}: {m.content}"


class _Moment(click.ParamType):
    """A date (2023-05-08: through the end of that day) or an ISO datetime, as an aware UTC
    datetime; a naive one is UTC."""

    name = "DATE|DATETIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is not a date or an ISO datetime (e.g. 2023-05-08 or 2023-05-08T13:56:00+02:00)",
                param,
                ctx,
            )
        if len(text) == 10:  # a date alone: what was known on that day, all of it
            moment += timedelta(days=1, microseconds=-1)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# MemoryType's values (framework.memory.longterm.records imports SQLModel: not at --help time).
_user_option = click.option(
    "--user",
    default=lambda: getpass.getuser(),
    show_default="you ($USER), as chat does",
    help="whose memories",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")

_type_option = click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(["fact", "preference", "outcome", "constraint"]),
    help="only memories of this type (repeatable)",
)


@memory.command("list")
@_user_option
@click.option("--all", "show_all", is_flag=True, help="include superseded and forgotten memories")
@_type_option
@click.option("--tag", "tags", multiple=True, help="only memories with this tag (repeatable: any of them)")
@_json_option
@common
def list_(
    user: str,
    show_all: bool,
    types: tuple[str, ...],
    tags: tuple[str, ...],
    as_json: bool,
    home: str | None,
    embedder: str | None,
) -> None:
    """Every one of the user's memories (active only unless --all), never truncated."""
    manager = _manager(home, embedder)
    if show_all:
        entries = [
            m
            for m in manager.long_term.all_entries(user)
            if (not types or m.memory_type in types) and (not tags or set(tags) & set(m.tags))
        ]
    else:
        entries = manager.long_term.active(user, types or None, tags or None)
    if as_json:
        click.echo(json.dumps([m.model_dump(mode="json", exclude={"embedder"}) for m in entries]))
        manager.close()
        return
    for m in entries:
        click.echo(_line(m))
    if not entries:
        click.echo(f"no memories for user {user!r}" + (" matching the filters" if types or tags else ""))
    manager.close()


@memory.command()
@click.argument("memory_id", type=int)
@_user_option
@common
def show(memory_id: int, user: str, home: str | None, embedder: str | None) -> None:
    """One memory by id, with every field and its audit trail."""
    manager = _manager(home, embedder)
    entry = manager.long_term.get(user, memory_id)
    if entry is None:
        manager.close()
        raise click.ClickException(f"memory #{memory_id} not found for user {user!r}")
    click.echo(_line(entry))
    for name, value in entry.model_dump(exclude={"content", "embedder"}).items():
        click.echo(f"  {name}: {value}")
    for e in manager.long_term.history(user, memory_id):
        click.echo(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.operation} by {e.actor}: {e.reason}")
    manager.close()


@memory.command()
@click.argument("query")
@_user_option
@click.option("--limit", default=8, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--min-confidence",
    type=click.FloatRange(0.0, 1.0),
    default=0.7,
    show_default=True,
    help="leave out memories less sure than this (the agent's recall: the seed's 0.7)",
)
@_type_option
@click.option("--tag", "tags", multiple=True, help="only memories with one of these tags (repeatable)")
@click.option(
    "--as-of",
    "as_of",
    type=_Moment(),
    help="what was known then: the memories active at this time (a date, through its end, or an "
    "ISO datetime; UTC unless it says otherwise), those superseded or forgotten since included",
)
@click.option(
    "--rewrite-model",
    default=None,
    help="widen the search with this litellm model's hints first, as an agent with query_rewrite does",
)
@_json_option
@common
def recall(
    query: str,
    user: str,
    limit: int,
    min_confidence: float,
    types: tuple[str, ...],
    tags: tuple[str, ...],
    as_of: datetime | None,
    rewrite_model: str | None,
    as_json: bool,
    home: str | None,
    embedder: str | None,
) -> None:
    """Run a recall and explain it: each result's signals, what each candidate signal found,
    which candidates a filter dropped and why, any signal that could not run, and the question
    as the query vector also embeds it (without the words most of the user's memories share).
    Read-only: it is not recorded as an access."""
    from framework.errors import FrameworkError
    from framework.memory.longterm.search import SearchQuery
    from framework.memory.rewrite import QueryRewriter, rewriting_model

    manager = _manager(home, embedder)
    try:
        try:
            rewriter = (
                QueryRewriter(rewriting_model(rewrite_model, manager.settings)) if rewrite_model else None
            )
        except FrameworkError as exc:  # a model that cannot be set up (a bad scripted: file, ...)
            raise click.ClickException(f"--rewrite-model: {exc}") from None
        hints = rewriter.rewrite(query) if rewriter is not None else None
        texts = manager.long_term.query_texts(user, query)
        focus = texts[1] if len(texts) > 1 else None  # the question without the user's common words
        vector = manager.recaller.query_vector(user, query, hints)
        past = manager.past_vectors(user, as_of, types or None) if as_of and vector is not None else None
        result = manager.long_term.search(
            SearchQuery(
                user,
                query,
                limit,
                min_confidence,
                types or None,
                tags or None,
                as_of=as_of,
                expansion=hints.keywords if hints else (),
            ),
            vector,
            past,
        )
    finally:
        manager.close()
    if hints is not None and (warning := hints.warning()):
        result.warnings.append(warning)
    if as_json:
        items = [
            {
                "memory": r.memory.model_dump(mode="json", exclude={"embedder"}),
                "score": r.score,
                "via": r.via,
                "signals": r.signals,
                "relevance_parts": r.relevance_parts,
            }
            for r in result.items
        ]
        out = {
            "items": items,
            "candidates": result.candidates,
            "dropped": result.dropped,
            "warnings": result.warnings,
            "query_focus": focus,
            "rewrite": {"keywords": list(hints.keywords), "guess": hints.guess, "failed": hints.failed}
            if hints is not None
            else None,
        }
        click.echo(json.dumps(out, default=str))
        return
    if focus is not None:
        click.echo(f"query vector also embeds, without the words most of the memories share: {focus!r}")
    if hints is not None and (explained := hints.explained()):
        click.echo(explained)
    click.echo(
        "candidates: " + ", ".join(f"{k} {v}" for k, v in result.candidates.items())
        if result.candidates
        else "candidates: none"
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    for n, r in enumerate(result.items, 1):
        click.echo(f"{n}. {r.score:.3f} via {r.via}  {_line(r.memory)}")
        click.echo("     " + "  ".join(f"{k} {v:.2f}" for k, v in r.signals.items()))
        click.echo("     relevance = " + " + ".join(f"{k} {v:.2f}" for k, v in r.relevance_parts.items()))
    for mid, reason in sorted(result.dropped.items()):
        click.echo(f"dropped #{mid}: {reason}")
    if not result.items:
        click.echo(f"nothing recalled for user {user!r}")


@memory.command()
@_user_option
@common
def audit(user: str, home: str | None, embedder: str | None) -> None:
    """Every operation on the user's memory, oldest first."""
    manager = _manager(home, embedder)
    for e in manager.long_term.history(user):
        target = f" #{e.memory_id}" if e.memory_id is not None else ""
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S} {e.operation}{target} by {e.actor}: {e.reason}")
    manager.close()


@memory.command()
@_user_option
@common
def export(user: str, home: str | None, embedder: str | None) -> None:
    """Everything stored about the user (memories, history, audit) as JSON on stdout."""
    manager = _manager(home, embedder)
    click.echo(json.dumps(manager.export(user), indent=2))
    manager.close()


@memory.command()
@click.argument("memory_id", type=int)
@_user_option
@click.option("--reason", default="forgotten on request (CLI)", show_default=True)
@click.option(
    "--hard",
    is_flag=True,
    help="delete it for good now (row and index rows), instead of soft-forgetting it",
)
@common
def forget(
    memory_id: int, user: str, reason: str, hard: bool, home: str | None, embedder: str | None
) -> None:
    """Forget one memory: never recalled again, the reason kept in the audit. --hard deletes it
    (any status) at once instead of after the forgetting cycle's grace period."""
    manager = _manager(home, embedder)
    if hard:
        done = manager.long_term.delete(user, memory_id, actor="user", reason=reason)
    else:
        done = manager.long_term.forget(user, memory_id, actor="user", reason=reason)
    manager.close()
    if not done:
        which = "memory" if hard else "active memory"
        raise click.ClickException(
            f"user {user!r} has no {which} #{memory_id} (see `framework memory list --all --user {user}`)"
        )
    click.echo(f"{'deleted' if hard else 'forgot'} #{memory_id}")


@memory.command("delete-user")
@click.option("--user", required=True)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@common
def delete_user(user: str, yes: bool, home: str | None, embedder: str | None) -> None:
    """Delete everything stored about a user: memories, vectors, lexical index, audit, sessions."""
    if not yes:
        click.confirm(f"delete everything stored about {user!r}?", abort=True)
    manager = _manager(home, embedder)
    counts = manager.delete_user(user)
    manager.close()
    click.echo(f"deleted {counts['memories']} memories and {counts['sessions']} sessions of {user!r}")


@click.command()
@common
@click.option("--model", default=None)
def config(home: str | None, embedder: str | None, model: str | None) -> None:
    """Show each setting, its value, and where it came from (flag > env > file > default)."""
    from framework.config import load_settings
    from framework.errors import ConfigurationError

    try:
        settings = load_settings(home, embedder=embedder, model=model)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"home: {settings.home}  (config file: {settings.config_file})")
    from framework.config import shown_url

    for name, source in settings.sources.items():
        value = getattr(settings, name)
        if name.endswith("_url") and isinstance(value, str):
            value = shown_url(value)  # never print a password
        click.echo(f"{name}: {value!r}  ({source})")


@memory.command()
@_user_option
@common
def pending(user: str, home: str | None, embedder: str | None) -> None:
    """Writes waiting for approval (when the agent's write policy requires it)."""
    manager = _manager(home, embedder)
    rows = manager.queue.pending(user)
    for row in rows:
        target = f" #{row.target}" if row.target is not None else ""
        click.echo(f"pending {row.id}: {row.action}{target} {row.candidate.get('content')!r} — {row.reason}")
    if not rows:
        click.echo(f"nothing pending for user {user!r}")
    manager.close()


def _decide(user: str, pending_id: int, approved: bool, home: str | None, embedder: str | None) -> None:
    manager = _manager(home, embedder)
    try:
        ops = manager.approve(user, pending_id, approved=approved)
    except KeyError:
        raise click.ClickException(
            f"user {user!r} has no pending write {pending_id} (see `framework memory pending --user {user}`)"
        ) from None
    finally:
        manager.close()
    for op in ops:
        target = f" #{op.memory_id}" if op.memory_id is not None else ""
        click.echo(f"{op.kind}{target}: {op.content} — {op.reason}")


@memory.command()
@click.argument("pending_id", type=int)
@_user_option
@common
def approve(pending_id: int, user: str, home: str | None, embedder: str | None) -> None:
    """Carry out a pending write."""
    _decide(user, pending_id, True, home, embedder)


@memory.command()
@click.argument("pending_id", type=int)
@_user_option
@common
def reject(pending_id: int, user: str, home: str | None, embedder: str | None) -> None:
    """Drop a pending write (the rejection is audited)."""
    _decide(user, pending_id, False, home, embedder)


@memory.command()
@click.argument("memory_ids", type=int, nargs=-1, required=True)
@_user_option
@click.option("--content", required=True, help="the merged statement that replaces them")
@common
def merge(
    memory_ids: tuple[int, ...], user: str, content: str, home: str | None, embedder: str | None
) -> None:
    """Merge related memories into one statement (each old one is superseded, kept for audit)."""
    manager = _manager(home, embedder)
    try:
        op = manager.merge(user, list(memory_ids), content)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        manager.close()
    click.echo(f"merged into #{op.memory_id}: {op.content} ({op.reason})")


@memory.command("opt-out")
@_user_option
@click.option("--undo", is_flag=True, help="opt back in")
@common
def opt_out(user: str, undo: bool, home: str | None, embedder: str | None) -> None:
    """Stop (or, with --undo, resume) writing anything long-term for a user."""
    manager = _manager(home, embedder)
    manager.consent.set_opted_out(user, not undo)
    manager.close()
    click.echo(f"user {user!r} {'opted back in' if undo else 'opted out: nothing will be written long-term'}")


@memory.command("forget-cycle")
@click.option("--user", default=None, help="one user (default: every user)")
@click.option("--dry-run", is_flag=True, help="report what would change, change nothing")
@click.option(
    "--agent",
    "agent_spec",
    default=None,
    help="use this agent's forgetting policy (Agent.forgetting; default: the seed's, floor 0.3)",
)
@common
def forget_cycle(
    user: str | None, dry_run: bool, agent_spec: str | None, home: str | None, embedder: str | None
) -> None:
    """Expire, decay, prune and finally delete old memories (run it daily, e.g. from cron)."""
    from framework.cli.options import load_agent_class
    from framework.memory.longterm.lifecycle import ForgettingCycle

    policy = load_agent_class(agent_spec).forgetting if agent_spec else None
    manager = _manager(home, embedder)
    report = ForgettingCycle(manager.engine, policy).run(user, dry_run=dry_run)
    manager.close()
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
    click.echo(("would change: " if dry_run else "") + counts)


@memory.command()
@click.option("--embedder", "new", required=True, help="the embedder to re-embed every memory with")
@click.option("--home", type=click.Path(file_okay=False), default=None)
def reembed(new: str, home: str | None) -> None:
    """Re-embed every memory with another embedder (the store then uses it)."""
    from framework.config import load_settings
    from framework.embeddings import resolve_embedder
    from framework.errors import FrameworkError
    from framework.memory.longterm.lifecycle import reembed as run
    from framework.memory.longterm.migrations import open_engine

    settings = load_settings(home)
    try:
        target = resolve_embedder(new)
        engine = open_engine(settings.database_url)
        with engine.connect() as conn:
            total = conn.exec_driver_sql("SELECT count(*) FROM memory WHERE status = 'active'").scalar_one()
        with click.progressbar(length=total, label=f"re-embedding with {target.name}") as bar:
            done = run(engine, target, progress=bar.update)
        engine.dispose()
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"re-embedded {done} memories; the store now uses {target.name}")
