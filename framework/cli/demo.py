"""`framework demo`: the runtime end to end, offline, across several sessions.

A ScriptedModel stands in for the LLM (it says so on screen); everything else is real: the
SQLite store with its vector and lexical indexes, the embedder, working memory, the policy gate
and the audit trail. Each session builds a fresh Agent, as a new process would. With
`--model X` the same user lines go to a real model instead.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from framework.cli import render
from framework.cli.options import common

API_KEY = "sk-proj-Zx81kQ2mVb7TnR4pLw9sYc3uHd6fJe0a"


@dataclass
class Line:
    text: str
    script: list[Any] = field(default_factory=list)  # what the scripted model replies, in order


@dataclass
class Scene:
    title: str
    agent: str  # a file in agents/
    user: str
    session: str
    lines: list[Line]


def _scenes() -> list[Scene]:
    from framework.llm.testing import ScriptedRequest, call, say
    from framework.memory.candidates import Extraction, ForgetRequest, MemoryCandidate
    from framework.steps.intent import Intent

    def remember(content: str, kind: str = "fact", confidence: float = 0.95, **kw: Any) -> Extraction:
        return Extraction(
            memories=[
                MemoryCandidate(
                    content=content,
                    memory_type=kind,
                    confidence=confidence,
                    **kw,
                )
            ]
        )

    def listed_id(req: ScriptedRequest, words: str) -> int:
        """The id of the memory the runtime listed in the extraction prompt that contains `words`."""
        match = re.search(rf"#(\d+): [^\n]*{re.escape(words)}", req.text)
        if match is None:
            raise AssertionError(f"the runtime did not show a memory containing {words!r}")
        return int(match.group(1))

    def knows(words: str, yes: str, no: str) -> Callable[[ScriptedRequest], Any]:
        return lambda req: say(yes if words in req.text else no)

    nothing = Extraction()
    return [
        Scene(
            "Session 1: Ada tells the assistant about herself",
            "assistant",
            "ada",
            "s1",
            [
                Line(
                    "I prefer Python over JavaScript.",
                    [
                        Intent(
                            goal="state a language preference",
                            task_type="chat",
                            memory_query="programming language preference",
                            remember=True,
                        ),
                        say("Noted: Python over JavaScript."),
                        remember("Ada prefers Python over JavaScript", "preference"),
                    ],
                ),
                Line(
                    "For the frontend of my side project I use JavaScript.",
                    [
                        Intent(
                            goal="share a fact about her project",
                            memory_query="side project frontend",
                            remember=True,
                        ),
                        say("Got it."),
                        remember(
                            "Ada uses JavaScript for the frontend of her side project", tags=["side-project"]
                        ),
                    ],
                ),
                Line(
                    f"My OpenAI key is {API_KEY}, remember it for later.",
                    [
                        Intent(goal="store an API key", memory_query="OpenAI key", remember=True),
                        say("I won't keep secrets such as API keys; please use a secret manager."),
                        remember(f"Ada's OpenAI API key is {API_KEY}"),
                    ],
                ),
                Line(
                    "I might switch to Go next year.",
                    [
                        Intent(goal="muse about Go", memory_query="Go programming language", remember=True),
                        say("Go is a fine choice for services."),
                        remember("Ada might switch to Go next year", confidence=0.8),
                    ],
                ),
                Line("thanks", [say("You're welcome!")]),  # trivial: no intent or extraction call
            ],
        ),
        Scene(
            "Session 2: a fresh agent, as after a restart",
            "assistant",
            "ada",
            "s2",
            [
                Line(
                    "Write me a function that reverses a string.",
                    [
                        Intent(
                            goal="get a string-reversal function",
                            task_type="coding",
                            memory_query="programming language preference",
                        ),
                        knows(
                            "Ada prefers Python over JavaScript",
                            "def reverse(text: str) -> str:\n    return text[::-1]",
                            "function reverse(s) { return [...s].reverse().join(''); }",
                        ),
                    ],
                ),
                Line(
                    "Actually, TypeScript, not JavaScript.",
                    [
                        Intent(
                            goal="correct the frontend language",
                            memory_query="frontend JavaScript",
                            correction=True,
                            remember=True,
                        ),
                        say("Updated: TypeScript for the frontend."),
                        lambda req: remember(
                            "Ada uses TypeScript for the frontend of her side project",
                            tags=["side-project"],
                            relation="refines",
                            target=listed_id(req, "JavaScript for the frontend"),
                        ),
                    ],
                ),
                Line(
                    "Remember that I'm vegetarian.",
                    [
                        Intent(goal="share a diet fact", memory_query="diet food", remember=True),
                        say("I'll remember that."),
                        remember("Ada is vegetarian"),
                    ],
                ),
                Line(
                    "Hmm, don't remember that.",
                    [
                        Intent(
                            goal="retract the last statement", memory_query="vegetarian diet", forget=True
                        ),
                        say("Done, I've forgotten it."),
                        lambda req: Extraction(
                            forget=[
                                ForgetRequest(
                                    memory_id=listed_id(req, "vegetarian"),
                                    reason="Ada said: don't remember that",
                                )
                            ]
                        ),
                    ],
                ),
            ],
        ),
        Scene(
            "Session 3: what is recalled now, and why",
            "assistant",
            "ada",
            "s3",
            [
                Line(
                    "What do I use for the frontend of my side project?",
                    [
                        Intent(
                            goal="recall the frontend language",
                            task_type="question",
                            memory_query="frontend side project language",
                        ),
                        knows("TypeScript", "TypeScript.", "I don't know."),
                    ],
                ),
            ],
        ),
        Scene(
            "Another user: Bob sees nothing of Ada's",
            "assistant",
            "bob",
            "b1",
            [
                Line(
                    "What do you know about me?",
                    [
                        Intent(goal="ask what is remembered", task_type="question", memory_query="about me"),
                        knows("Ada", "I know about Ada.", "Nothing yet: we have not talked before."),
                    ],
                ),
            ],
        ),
        Scene(
            "DevOps, session 1: Ada sets a rule",
            "devops",
            "ada",
            "d1",
            [
                Line(
                    "Let's deploy to staging first, then production.",
                    [
                        Intent(
                            goal="set a deployment rule",
                            task_type="planning",
                            memory_query="deployment order",
                            remember=True,
                        ),
                        say("Understood: staging first, then production."),
                        remember(
                            "Ada requires deploying to staging and passing smoke tests before production",
                            "constraint",
                            tags=["deploy"],
                        ),
                    ],
                ),
            ],
        ),
        Scene(
            "DevOps, session 2: the policy gate",
            "devops",
            "ada",
            "d2",
            [
                Line(
                    "Ship 2.0 to production.",
                    [
                        Intent(
                            goal="deploy 2.0 to production", task_type="deploy", memory_query="deployment"
                        ),
                        call("deploy_to_production", version="2.0"),
                        lambda req: (
                            call("deploy_to_staging", version="2.0")
                            if "DENIED by policy" in (req.messages[-1].content or "")
                            else say("done")
                        ),
                        call("run_smoke_tests", environment="staging"),
                        call("deploy_to_production", version="2.0"),
                        say("2.0 is live: staged, smoke-tested, then production."),
                    ],
                ),
                Line(
                    "Free some disk space: rm -rf /var/data",
                    [
                        Intent(
                            goal="delete data to free disk", task_type="deploy", memory_query="disk cleanup"
                        ),
                        call("run_shell", command="rm -rf /var/data"),
                        say("I did not run it: a human has to approve destructive commands."),
                        nothing,
                    ],
                ),
            ],
        ),
        Scene(
            "DevOps, session 3: a skill walked step by step",
            "devops",
            "ada",
            "d3",
            [
                Line(
                    "Release 2.1 the safe way.",
                    [
                        Intent(
                            goal="release 2.1",
                            task_type="deploy",
                            memory_query="deployment",
                            skill="safe_deployment",
                        ),
                        call("deploy_to_staging", version="2.1"),
                        say("Step 1: 2.1 is on staging."),
                        call("run_smoke_tests", environment="staging"),
                        say("Step 2: smoke tests passed on staging."),
                        call("deploy_to_production", version="2.1"),
                        say("Step 3: 2.1 is in production."),
                        call("run_smoke_tests", environment="production"),
                        say("Step 4: production is healthy. 2.1 is released."),
                    ],
                ),
            ],
        ),
    ]


@click.command()
@click.option("--model", default=None, help="send the same user lines to a real model instead of the script")
@click.option("--keep", is_flag=True, help="keep the demo's FRAMEWORK_HOME (default: a temporary folder)")
@common
def demo(model: str | None, keep: bool, home: str | None, embedder: str | None) -> None:
    """Run the runtime end to end across several sessions (offline with a scripted model)."""
    from framework.cli.options import load_agent_class
    from framework.errors import FrameworkError
    from framework.llm.testing import ScriptedModel
    from framework.steps.act import ApprovalRequest

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

    for scene in _scenes():
        click.echo("\n" + click.style(f"== {scene.title} ({scene.agent}, user {scene.user}) ==", bold=True))
        llm: Any = ScriptedModel(name="scripted (demo)") if scripted else model
        try:
            agent = load_agent_class(scene.agent)(model=llm, home=root, embedder=embedder, approve=approver)
        except FrameworkError as exc:
            raise click.ClickException(str(exc)) from None
        session = agent.session(scene.user, scene.session)
        for line in scene.lines:
            if scripted:
                llm.extend(line.script)
            click.echo(click.style("you> ", fg="blue", bold=True) + line.text)
            try:
                turn = session.send(line.text)
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
