"""`framework demo`: the runtime end to end, offline, across several sessions.

A ScriptedModel stands in for the LLM (it says so on screen); everything else is real: the
SQLite store with its vector and lexical indexes, the embedder, working memory, the policy gate
and the audit trail. Each session builds a fresh Agent, as a new process would. With
`--model X` the same user lines go to a real model instead.

What is said is data: demo_screenplay.yaml beside this file holds the scenes, the user's lines and
the scripted replies (its header documents the reply kinds). This module is its schema and its
interpreter. The schema is plain dataclasses that pydantic validates when the file is loaded
(unknown keys forbidden), so that importing the CLI for `framework --help` does not import
pydantic.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import click

from framework.cli import render
from framework.cli.options import common

if TYPE_CHECKING:
    from framework.llm.testing import Reply, ScriptedRequest

SCREENPLAY = Path(__file__).with_name("demo_screenplay.yaml")
# A fake OpenAI key: `{api_key}` in the screenplay; the summary checks that no file stores it.
API_KEY = "sk-proj-Zx81kQ2mVb7TnR4pLw9sYc3uHd6fJe0a"


# --- the screenplay's schema ------------------------------------------------------------------
class _Strict:
    """Makes pydantic reject keys a dataclass does not declare: a typo is an error, not a no-op."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}


@dataclass(frozen=True)
class IntentReply(_Strict):
    """The runtime's Intent; a field left out (None) keeps the Intent's default."""

    goal: str
    task_type: str | None = None
    memory_query: str | None = None
    remember: bool | None = None
    forget: bool | None = None
    correction: bool | None = None
    trivial: bool | None = None


@dataclass(frozen=True)
class CallReply(_Strict):
    """A completion that calls one tool."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RememberReply(_Strict):
    """An extraction with one memory; `target_listed` picks, by its words, the listed memory that
    `relation` is about (its id is only known once the runtime has listed it)."""

    content: str
    type: Literal["fact", "preference", "outcome", "constraint"] = "fact"
    confidence: float = 0.95
    tags: list[str] = field(default_factory=list)
    relation: Literal["new", "duplicate", "refines", "contradicts"] = "new"
    target_listed: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence is between 0 and 1")
        if (self.relation == "new") != (self.target_listed is None):
            raise ValueError("target_listed goes with a relation other than new, and only with one")


@dataclass(frozen=True)
class ForgetReply(_Strict):
    """An extraction asking to forget the listed memory whose line contains `words`."""

    words: str
    reason: str


@dataclass(frozen=True)
class KnownReply(_Strict):
    """Says `known` if `words` reached the prompt, else `unknown`: shows whether recall worked."""

    words: str
    known: str
    unknown: str


@dataclass(frozen=True)
class DeniedBranch(_Strict):
    """`then` if the last message says the policy gate denied the tool call, else `otherwise`."""

    then: Step
    otherwise: Step


@dataclass(frozen=True)
class Step(_Strict):
    """One scripted reply: exactly one of these keys is given."""

    intent: IntentReply | None = None
    say: str | None = None
    call: CallReply | None = None
    remember: RememberReply | None = None
    forget_listed: ForgetReply | None = None
    nothing: Literal[True] | None = None
    answer_if_known: KnownReply | None = None
    if_denied: DeniedBranch | None = None

    def __post_init__(self) -> None:
        given = [f.name for f in fields(self) if getattr(self, f.name) is not None]
        if len(given) != 1:
            kinds = ", ".join(f.name for f in fields(self))
            raise ValueError(f"a reply has exactly one of {kinds}; got {given or 'none'}")

    @property
    def kind(self) -> str:
        return next(f.name for f in fields(self) if getattr(self, f.name) is not None)

    @property
    def request_kind(self) -> str:
        """The kind of request this reply answers: a structured output, or a completion."""
        return "structured" if self.kind in ("intent", "remember", "forget_listed", "nothing") else "complete"

    def __repr__(self) -> str:  # what ScriptedModel shows of a reply left unconsumed
        return f"{self.kind}: {getattr(self, self.kind)!r}"


@dataclass(frozen=True)
class Line(_Strict):
    you: str  # what the user types
    replies: list[Step]  # what the scripted model replies to this line's calls, in order


@dataclass(frozen=True)
class Scene(_Strict):
    title: str
    agent: str  # a file in agents/
    user: str
    session: str
    lines: list[Line]


@dataclass(frozen=True)
class Screenplay(_Strict):
    scenes: list[Scene]


def load_screenplay(path: Path = SCREENPLAY) -> Screenplay:
    """Read and validate a screenplay; a DefinitionError names the file and each bad field."""
    import yaml
    from pydantic import TypeAdapter, ValidationError

    from framework.errors import DefinitionError
    from framework.yaml_files import load_yaml

    try:
        # The key has no YAML-special characters, so it is filled into the text as written.
        raw = load_yaml(path, fill={"{api_key}": API_KEY})
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path}: cannot read the screenplay: {exc}") from None
    try:
        return TypeAdapter(Screenplay).validate_python(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  {_field(e['loc'])}: {_message(e)}" for e in exc.errors())
        raise DefinitionError(f"{path}: invalid screenplay:\n{problems}") from None


def _field(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as the YAML reader sees it: `scenes[0].lines[2].replies[1].call.tool`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"


def _message(error: Any) -> str:
    if error["type"] == "unexpected_keyword_argument":
        return "unknown key"
    if error["type"] == "missing":
        return "missing"
    return str(error["msg"]).removeprefix("Value error, ")


# --- the interpreter ----------------------------------------------------------------------------
def _reply(step: Step, req: ScriptedRequest) -> Reply:
    """The scripted model's reply to `req`, the request the runtime actually sent, for `step`."""
    from framework.llm.testing import call, say
    from framework.memory.governance import Extraction, ForgetRequest, MemoryCandidate
    from framework.steps.intent import Intent

    if step.intent is not None:
        return Intent(**{k: v for k, v in vars(step.intent).items() if v is not None})
    if step.say is not None:
        return say(step.say)
    if step.call is not None:
        return call(step.call.tool, **step.call.args)
    if step.nothing:
        return Extraction()
    if step.remember is not None:
        r = step.remember
        candidate = MemoryCandidate(
            content=r.content,
            memory_type=r.type,
            confidence=r.confidence,
            tags=list(r.tags),
            relation=r.relation,
            target=_listed_id(req, r.target_listed) if r.target_listed else None,
        )
        return Extraction(memories=[candidate])
    if step.forget_listed is not None:
        f = step.forget_listed
        return Extraction(forget=[ForgetRequest(memory_id=_listed_id(req, f.words), reason=f.reason)])
    if step.answer_if_known is not None:
        k = step.answer_if_known
        return say(k.known if k.words in req.text else k.unknown)
    assert step.if_denied is not None  # the schema allows no other kind
    denied = "DENIED by policy" in (req.messages[-1].content or "")
    return _reply(step.if_denied.then if denied else step.if_denied.otherwise, req)


def _listed_id(req: ScriptedRequest, words: str) -> int:
    """The id of the memory the runtime listed in the extraction prompt that contains `words`."""
    match = re.search(rf"#(\d+): [^\n]*{re.escape(words)}", req.text)
    if match is None:
        raise AssertionError(f"the runtime did not show a memory containing {words!r}")
    return int(match.group(1))


@click.command()
@click.option("--model", default=None, help="send the same user lines to a real model instead of the script")
@click.option("--keep", is_flag=True, help="keep the demo's FRAMEWORK_HOME (default: a temporary folder)")
@common
def demo(model: str | None, keep: bool, home: str | None, embedder: str | None) -> None:
    """Run the runtime end to end across several sessions (offline with a scripted model)."""
    from framework.cli.options import load_agent_class
    from framework.errors import FrameworkError
    from framework.gate import ApprovalRequest
    from framework.llm.testing import Computed, ScriptedModel

    try:
        screenplay = load_screenplay()
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None
    root = Path(home) if home else Path(tempfile.mkdtemp(prefix="framework-demo-"))
    scripted = model is None
    click.echo(click.style("framework demo", bold=True) + f" — FRAMEWORK_HOME={root}")
    if scripted:
        click.echo(
            click.style(
                "The LLM here is a ScriptedModel standing in for a real one (no LLM is reachable offline):\n"
                "its replies are written in advance. Storage, embeddings, retrieval, the policy gate and\n"
                "the audit are real. Run with --model <litellm model> to use a real LLM.",
                fg="yellow",
            )
        )

    def approver(request: ApprovalRequest) -> bool:
        click.echo(click.style(f"  approval asked for {request.tool}: the demo's human says no", fg="yellow"))
        return False

    for scene in screenplay.scenes:
        click.echo("\n" + click.style(f"== {scene.title} ({scene.agent}, user {scene.user}) ==", bold=True))
        llm: Any = ScriptedModel(name="scripted (demo)") if scripted else model
        try:
            agent = load_agent_class(scene.agent)(model=llm, home=root, embedder=embedder, approve=approver)
        except FrameworkError as exc:
            raise click.ClickException(str(exc)) from None
        session = agent.session(scene.user, scene.session)
        for line in scene.lines:
            if scripted:
                llm.extend(Computed(partial(_reply, step), step.request_kind) for step in line.replies)
            click.echo(click.style("you> ", fg="blue", bold=True) + line.you)
            try:
                turn = session.send(line.you)
            except FrameworkError as exc:
                agent.close()
                raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
            render.answer(turn)
            render.steps(turn)
        if scripted:
            llm.assert_consumed()
        agent.close()
    _summary(root, embedder)
    if not keep and not home:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def _summary(root: Path, embedder: str | None) -> None:
    from collections import Counter

    from framework.config import load_settings
    from framework.memory.manager import MemoryManager

    manager = MemoryManager(load_settings(root, embedder=embedder))
    click.echo("\n" + click.style("== What is on disk now ==", bold=True))
    for m in manager.long_term.all_entries("ada"):
        click.echo(f"  ada #{m.id} [{m.status}] {m.memory_type}: {m.content}")
    ops = Counter(e.operation for e in manager.long_term.history("ada"))
    click.echo("  audit for ada: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    manager.close()
    leaked = [p for p in root.rglob("*") if p.is_file() and API_KEY.encode() in p.read_bytes()]
    click.echo(f"  files under FRAMEWORK_HOME containing Ada's API key: {len(leaked)}")
