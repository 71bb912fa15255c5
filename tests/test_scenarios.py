"""Behaviour scenarios across sessions: each "session" is a NEW agent object (or a separate
process) sharing one FRAMEWORK_HOME, driven by a ScriptedModel and the hash test embedder.

Everything is real: SQLite (+ sqlite-vec, FTS5), diskcache, the YAML policies in policies/.
Per turn the script is: an Intent (skipped for trivial inputs), the completion replies (a tool
call makes the loop ask again), then an Extraction (skipped for trivial intents).

Note: a ScriptError is also a FrameworkError, which the loop turns into `turn.error` instead of
raising; every turn below therefore asserts `turn.error is None` unless it expects an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agents.assistant import Assistant
from agents.devops import DevOps
from framework import ApprovalRequest, Turn
from framework.agent import Agent
from framework.llm.testing import ScriptedModel, ScriptedRequest, Step, call, say
from framework.memory.governance.candidates import Extraction, ForgetRequest, MemoryCandidate
from framework.memory.longterm.records import MemorySource, MemoryType
from framework.steps.intent import Intent

ROOT = Path(__file__).resolve().parent.parent
A = TypeVar("A", bound=Agent)


# --- helpers ---------------------------------------------------------------------------------
def memory(content: str, kind: str, confidence: float = 0.95, **extra: Any) -> MemoryCandidate:
    return MemoryCandidate(
        content=content,
        memory_type=MemoryType(kind),
        confidence=confidence,
        source=MemorySource.explicit,
        **extra,
    )


def run_session(
    agent_cls: type[Agent], user_id: str | None, turns: list[tuple[str, list[Step]]], **agent_kwargs: Any
) -> tuple[list[Turn], ScriptedModel]:
    """One "session": a fresh agent object, one Session, the given turns; closed afterwards.
    Each turn's script is appended just before the turn, and must be fully consumed by it."""
    model = ScriptedModel()
    agent = agent_cls(model=model, embedder="hash", **agent_kwargs)
    try:
        session = agent.session(user_id=user_id)
        done = []
        for text, script in turns:
            model.extend(script)
            done.append(session.send(text))
            model.assert_consumed()
        return done, model
    finally:
        agent.close()


def system_of(req: ScriptedRequest) -> str:
    first = req.messages[0]
    assert first.role == "system", f"first message is {first.role}, not the system prompt"
    return first.content or ""


def completions(model: ScriptedModel) -> list[ScriptedRequest]:
    return [r for r in model.requests if r.kind == "complete"]


def all_text(model: ScriptedModel) -> str:
    return "\n".join(r.text for r in model.requests)


def listed_id(req: ScriptedRequest, content_start: str) -> int:
    """The id the extraction prompt shows for a known memory ("#12: content (type)")."""
    found = re.search(r"#(\d+): " + re.escape(content_start), req.text)
    assert found, f"memory {content_start!r} is not listed in the extraction prompt:\n{req.text}"
    return int(found.group(1))


def expect_last_tool_message(prefix: str, then: Step) -> Callable[[ScriptedRequest], Any]:
    """A reply that first checks the tool result the runtime sent back to the model."""

    def step(req: ScriptedRequest) -> Any:
        tool_msgs = [m for m in req.messages if m.role == "tool"]
        assert tool_msgs, "no tool message reached the model"
        assert (tool_msgs[-1].content or "").startswith(prefix), tool_msgs[-1].content
        return then

    return step


def open_agent(agent_cls: type[A], **kwargs: Any) -> A:
    """An agent used only to inspect the store (no model calls)."""
    return agent_cls(model=ScriptedModel(), embedder="hash", **kwargs)


def preference_contents(turn: Turn) -> list[str]:
    assert turn.recollection is not None
    return [m.content for m in turn.recollection.preferences]


# --- 1. a preference shapes the next session (second session in a separate process) ------------
SECOND_SESSION = textwrap.dedent("""
    import json, socket, sys

    _connect = socket.socket.connect
    def _guard(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith("127."):
            raise RuntimeError(f"network blocked in tests: {address!r}")
        return _connect(self, address)
    socket.socket.connect = _guard

    from agents.assistant import Assistant
    from framework.llm.testing import Fill, ScriptedModel, say
    from framework.memory.governance.candidates import Extraction

    PREFERENCE = "The user prefers Python over JavaScript"

    def answer(req):
        system = req.messages[0]
        if system.role == "system" and PREFERENCE in (system.content or ""):
            return say("Here is a Python script using the csv module.")
        return say("Here is a JavaScript script using papaparse.")

    model = ScriptedModel([
        Fill({"goal": "write a CSV parser", "task_type": "coding",
              "memory_query": "programming language preference"}, expect="Intent"),
        answer,
    ])
    agent = Assistant(model=model, embedder="hash")
    try:
        turn = agent.session(user_id=sys.argv[1]).send("Write me a script that parses a CSV file")
        model.assert_consumed()
        sent = [r for r in model.requests if r.kind == "complete"]
        print(json.dumps({
            "home": agent.settings.home.as_posix(),
            "preferences": [m.content for m in turn.recollection.preferences],
            "system": sent[0].messages[0].content,
            "system_role": sent[0].messages[0].role,
            "answer": turn.answer,
            "error": turn.error,
            "writes": len(turn.ops("write")),
        }))
    finally:
        agent.close()
""")


def _second_session_in_subprocess(tmp_path: Path, home: Path, user: str) -> dict[str, Any]:
    script = tmp_path / "second_session.py"
    script.write_text(SECOND_SESSION)
    env = {
        **os.environ,
        "FRAMEWORK_HOME": str(home),
        "FRAMEWORK_EMBEDDER": "hash",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, str(script), user],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


PYTHON_PREFERENCE = "The user prefers Python over JavaScript"


def _state_python_preference() -> None:
    turns, _ = run_session(
        Assistant,
        "ada",
        [
            (
                "I prefer Python over JavaScript",
                [
                    Intent(
                        goal="state a language preference", memory_query="programming language", remember=True
                    ),
                    say("Noted: Python it is."),
                    Extraction(memories=[memory(PYTHON_PREFERENCE, "preference")]),
                ],
            )
        ],
    )
    assert turns[0].error is None
    assert [op.content for op in turns[0].ops("write")] == [PYTHON_PREFERENCE]


def test_preference_is_used_in_a_later_session(home: Path) -> None:
    _state_python_preference()

    def answer(req: ScriptedRequest) -> Any:
        if PYTHON_PREFERENCE in system_of(req):
            return say("Here is a Python script using the csv module.")
        return say("Here is a JavaScript script using papaparse.")

    for user, language in (("ada", "Python"), ("grace", "JavaScript")):
        turns, model = run_session(
            Assistant,
            user,
            [
                (
                    "Write me a script that parses a CSV file",
                    [
                        Intent(
                            goal="write a CSV parser",
                            task_type="coding",
                            memory_query="programming language preference",
                        ),
                        answer,
                    ],
                )
            ],
        )
        turn = turns[0]
        assert turn.error is None
        knows = user == "ada"  # grace is the control: same script, no preference stored
        assert preference_contents(turn) == ([PYTHON_PREFERENCE] if knows else [])
        assert (PYTHON_PREFERENCE in system_of(completions(model)[0])) is knows
        assert turn.answer.startswith(f"Here is a {language} script")


def test_preference_is_used_in_a_later_session_in_another_process(home: Path, tmp_path: Path) -> None:
    _state_python_preference()

    later = _second_session_in_subprocess(tmp_path, home, "ada")
    assert later["home"] == home.as_posix()
    assert later["error"] is None
    assert later["preferences"] == [PYTHON_PREFERENCE]
    assert later["system_role"] == "system"
    assert PYTHON_PREFERENCE in later["system"]
    assert "Python" in later["answer"] and "JavaScript" not in later["answer"]
    assert later["writes"] == 0

    # Control: the same script for a user without the preference answers differently, so the
    # answer above really depended on the recalled memory.
    stranger = _second_session_in_subprocess(tmp_path, home, "grace")
    assert stranger["error"] is None
    assert stranger["preferences"] == []
    assert PYTHON_PREFERENCE not in stranger["system"]
    assert "JavaScript" in stranger["answer"]


# --- 2. a deployment constraint, the staging-first policy, approval of destructive commands ------
def test_staging_first_constraint_and_policy_across_sessions(home: Path) -> None:
    constraint = "The user requires every deploy to go to staging first, then to production"
    first, _ = run_session(
        DevOps,
        "ops",
        [
            (
                "Let's deploy to staging first, then production",
                [
                    Intent(
                        goal="set the deployment order",
                        task_type="deploy",
                        memory_query="deploy staging production",
                        remember=True,
                    ),
                    say("Understood: staging first, then production."),
                    Extraction(memories=[memory(constraint, "constraint")]),
                ],
            )
        ],
    )
    assert first[0].error is None
    assert [op.content for op in first[0].ops("write")] == [constraint]

    deploy_intent = Intent(
        goal="ship 2.0.0 to production", task_type="deploy", memory_query="deploy production"
    )
    denied_prefix = "DENIED by policy"
    later, model = run_session(
        DevOps,
        "ops",
        [
            (
                "Ship version 2.0.0 to production",
                [
                    deploy_intent,
                    call("deploy_to_production", version="2.0.0"),
                    expect_last_tool_message(denied_prefix, call("deploy_to_staging", version="2.0.0")),
                    expect_last_tool_message("staging now runs 2.0.0", say("Staging runs 2.0.0.")),
                    Extraction(),  # production was denied: a partial outcome is worth an extraction
                ],
            ),
            (
                "Now production, please",
                [
                    deploy_intent,
                    # staging succeeded in this session, smoke tests not yet: still denied
                    call("deploy_to_production", version="2.0.0"),
                    expect_last_tool_message(denied_prefix, call("run_smoke_tests", environment="staging")),
                    expect_last_tool_message(
                        "12 of 12 smoke tests passed", call("deploy_to_production", version="2.0.0")
                    ),
                    expect_last_tool_message("production now runs 2.0.0", say("2.0.0 is live.")),
                ],
            ),
        ],
    )
    one, two = later
    assert one.error is None and two.error is None

    # the constraint from the earlier session is recalled and sent to the model
    for turn in later:
        assert turn.recollection is not None
        assert [m.content for m in turn.recollection.constraints] == [constraint]
    for req in completions(model):
        assert constraint in system_of(req)

    denied = one.tool_calls[0]
    assert (denied.name, denied.verdict, denied.ok) == ("deploy_to_production", "deny", False)
    assert denied.policies == ["staging_first_deployment@2"]
    assert denied.result.startswith(denied_prefix)
    assert "deploy_to_staging" in denied.result and "run_smoke_tests" in denied.result
    assert [(t.name, t.verdict, t.ok) for t in one.tool_calls[1:]] == [("deploy_to_staging", "allow", True)]

    still_denied, smoke, prod = two.tool_calls
    assert (still_denied.verdict, still_denied.policies) == ("deny", ["staging_first_deployment@2"])
    assert "run_smoke_tests" in still_denied.result
    assert "deploy_to_staging" not in still_denied.result.split("not yet succeeded")[-1]
    assert (smoke.name, smoke.ok) == ("run_smoke_tests", True)
    assert (prod.name, prod.verdict, prod.ok) == ("deploy_to_production", "allow", True)

    # the denial reached the model as the tool message answering its call
    denial_messages = [
        m
        for m in completions(model)[1].messages
        if m.role == "tool" and (m.content or "").startswith(denied_prefix)
    ]
    assert len(denial_messages) == 1

    inspector = open_agent(DevOps)
    try:
        env = inspector.environment()
    finally:
        inspector.close()
    assert env["staging"] == "2.0.0" and env["production"] == "2.0.0"
    assert env["smoke_tested"] == ["2.0.0"]


def _destructive_turn(refused: bool) -> list[Step]:
    # A refused call fails the turn, and a failed turn is worth an extraction call.
    return [
        Intent(goal="wipe the data directory", task_type="ops", memory_query="shell data"),
        call("run_shell", command="rm -rf /var/data"),
        lambda req: say("Result: " + (req.messages[-1].content or "")),
        *([Extraction()] if refused else []),
    ]


def test_destructive_command_needs_approval(home: Path) -> None:
    refused, model = run_session(DevOps, "ops", [("Delete /var/data", _destructive_turn(refused=True))])
    record = refused[0].tool_calls[0]
    assert refused[0].error is None
    assert (record.verdict, record.approved, record.ok) == ("approve", False, False)
    assert record.policies == ["destructive_command_approval@2"]
    assert record.result.startswith("DENIED: a human did not approve")
    assert completions(model)[1].messages[-1].role == "tool"
    assert completions(model)[1].messages[-1].content == record.result

    inspector = open_agent(DevOps)
    try:
        assert "rm -rf /var/data" not in inspector.environment()["shell_log"]
    finally:
        inspector.close()

    asked: list[ApprovalRequest] = []

    def approve(req: ApprovalRequest) -> bool:
        asked.append(req)
        return True

    approved, _ = run_session(
        DevOps, "ops", [("Delete /var/data", _destructive_turn(refused=False))], approve=approve
    )
    record = approved[0].tool_calls[0]
    assert approved[0].error is None
    assert (record.verdict, record.approved, record.ok) == ("approve", True, True)
    assert record.result == "removed /var/data"
    assert len(asked) == 1
    assert asked[0].tool == "run_shell" and asked[0].arguments == {"command": "rm -rf /var/data"}
    assert asked[0].user_id == "ops"
    assert any("destructive_command_approval" in r for r in asked[0].reasons)

    inspector = open_agent(DevOps)
    try:
        assert inspector.environment()["shell_log"] == ["rm -rf /var/data"]
    finally:
        inspector.close()


# --- 3. a correction supersedes the old memory -----------------------------------------------
def test_correction_supersedes_and_old_memory_is_never_recalled(home: Path) -> None:
    old_text = "The user prefers JavaScript for frontend work"
    new_text = "The user prefers TypeScript over plain JS for frontend work"
    first, _ = run_session(
        Assistant,
        "lin",
        [
            (
                "I prefer JavaScript for frontend work",
                [
                    Intent(goal="state a preference", memory_query="frontend language", remember=True),
                    say("Noted."),
                    Extraction(memories=[memory(old_text, "preference")]),
                ],
            )
        ],
    )
    old_id = first[0].ops("write")[0].memory_id
    assert old_id is not None

    seen: dict[str, int] = {}

    def correct(req: ScriptedRequest) -> Extraction:
        seen["id"] = listed_id(req, old_text)
        return Extraction(memories=[memory(new_text, "preference", relation="refines", target=seen["id"])])

    second, _ = run_session(
        Assistant,
        "lin",
        [
            (
                "Actually, TypeScript, not JavaScript",
                [
                    Intent(
                        goal="correct the frontend language preference",
                        memory_query="frontend language",
                        correction=True,
                        remember=True,
                    ),
                    say("Got it: TypeScript."),
                    correct,
                ],
            )
        ],
    )
    turn = second[0]
    assert turn.error is None
    assert seen["id"] == old_id
    assert preference_contents(turn) == [old_text]  # it was recalled, so the model could name it
    (op,) = turn.ops("supersede")
    assert op.content == new_text and op.reason.startswith(f"refines #{old_id}")
    new_id = op.memory_id
    assert not turn.ops("write")

    third, model = run_session(
        Assistant,
        "lin",
        [
            (
                "Build me a small frontend widget",
                [
                    Intent(
                        goal="build a widget",
                        task_type="coding",
                        memory_query="frontend language JavaScript TypeScript",
                    ),
                    lambda req: say("In TypeScript." if new_text in system_of(req) else "In JavaScript."),
                ],
            )
        ],
    )
    later = third[0]
    assert later.error is None
    assert later.recollection is not None
    assert preference_contents(later) == [new_text]
    assert old_id not in later.recollection.memory_ids()
    assert new_text in system_of(completions(model)[0])
    assert old_text not in all_text(model)  # not in the prompt, not in the extraction listing
    assert later.answer == "In TypeScript."

    inspector = open_agent(Assistant)
    try:
        events = inspector.memory.long_term.history("lin")
        exported = inspector.memory.export("lin")
    finally:
        inspector.close()
    supersedes = [e for e in events if e.operation == "supersede"]
    assert [(e.memory_id, e.detail.get("superseded_by")) for e in supersedes] == [(old_id, new_id)]
    by_id = {m["id"]: m for m in exported["memories"]}
    assert by_id[old_id]["status"] == "superseded" and by_id[old_id]["content"] == old_text
    assert by_id[old_id]["superseded_by"] == new_id
    assert by_id[new_id]["status"] == "active" and by_id[new_id]["supersedes"] == old_id


# --- 4. "don't remember that" ----------------------------------------------------------------
def test_forget_request_in_the_same_session(home: Path) -> None:
    fact = "The user uses Vim as their main editor"
    reason = "the user said: don't remember that"
    shown: dict[str, int] = {}

    def forget_it(req: ScriptedRequest) -> Extraction:
        shown["id"] = listed_id(req, fact)
        return Extraction(forget=[ForgetRequest(memory_id=shown["id"], reason=reason)])

    turns, _ = run_session(
        Assistant,
        "kim",
        [
            (
                "I use Vim as my main editor",
                [
                    Intent(goal="share the editor", memory_query="editor", remember=True),
                    say("Nice."),
                    Extraction(memories=[memory(fact, "fact")]),
                ],
            ),
            (
                "Don't remember that",
                [
                    Intent(goal="forget the last thing", memory_query="editor", forget=True),
                    say("Forgotten."),
                    forget_it,
                ],
            ),
        ],
    )
    wrote, forgot = turns
    assert wrote.error is None and forgot.error is None
    memory_id = wrote.ops("write")[0].memory_id
    assert memory_id is not None and shown["id"] == memory_id
    assert [(op.memory_id, op.reason) for op in forgot.ops("forget")] == [(memory_id, reason)]

    later, model = run_session(
        Assistant,
        "kim",
        [
            (
                "Which editor do I use? Vim or Emacs?",
                [
                    Intent(goal="recall the editor", task_type="question", memory_query="editor Vim"),
                    say("I don't know which editor you use."),
                ],
            )
        ],
    )
    assert later[0].error is None
    assert later[0].recollection is not None
    assert memory_id not in later[0].recollection.memory_ids()
    assert fact not in all_text(model)

    inspector = open_agent(Assistant)
    try:
        entry = inspector.memory.long_term.get("kim", memory_id)
        events = inspector.memory.long_term.history("kim")
    finally:
        inspector.close()
    assert entry is not None and entry.status == "forgotten"
    forget_events = [e for e in events if e.operation == "forget"]
    assert [(e.memory_id, e.reason, e.actor) for e in forget_events] == [(memory_id, reason, "user")]


# --- 5. secrets never reach the disk ---------------------------------------------------------
API_KEY = "sk-proj-" + secrets.token_hex(24)
PASSWORD = "hunter2-Sup3r"
CARD = "4111 1111 1111 1111"
SECRETS = {"password": PASSWORD, "api key": API_KEY, "card": CARD, "card digits": CARD.replace(" ", "")}


def _secret_turns() -> list[tuple[str, list[Step]]]:
    def turn(text: str, candidates: list[str]) -> tuple[str, list[Step]]:
        return (
            text,
            [
                Intent(goal="share a credential", memory_query="credentials", remember=True),
                say("I will not keep that."),
                Extraction(memories=[memory(c, "fact") for c in candidates]),
            ],
        )

    return [
        turn(f"my password is {PASSWORD}", [f"The user's password is {PASSWORD}"]),
        turn(f"my OpenAI key is {API_KEY}", [f"The user's OpenAI key is {API_KEY}"]),
        turn(
            f"card {CARD}",
            [f"The user's card number is {CARD}", f"The user pays with card {CARD.replace(' ', '')}"],
        ),
    ]


def _files_containing_secrets(root: Path) -> list[str]:
    hits = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing was written under {root}"
    for path in files:
        data = path.read_bytes()
        hits += [
            f"{name} in {path.relative_to(root)}" for name, value in SECRETS.items() if value.encode() in data
        ]
    return hits


def test_secrets_are_rejected_and_redacted(home: Path) -> None:
    turns, model = run_session(Assistant, "sam", _secret_turns())
    rejected = [op for t in turns for op in t.ops("reject")]
    assert all(t.error is None for t in turns)
    assert len(rejected) == 4
    assert all(op.reason.startswith("sensitive") for op in rejected), [op.reason for op in rejected]
    assert not [op for t in turns for op in t.memory_ops if op.kind != "reject"]
    for op in rejected:  # a sensitive candidate's words are withheld whole, not just its secret
        assert op.content == "[withheld: sensitive]"
        assert not any(v in op.content for v in SECRETS.values())

    inspector = open_agent(Assistant)
    try:
        assert inspector.memory.long_term.all_entries("sam") == []
        conversation = inspector.memory.working.load("sam", turns[0].session_id).conversation
        audit = inspector.memory.long_term.history("sam")
    finally:
        inspector.close()
    rejects = [e for e in audit if e.operation == "reject"]
    assert len(rejects) == 4 and all(e.reason.startswith("sensitive") for e in rejects)
    assert all(e.detail["content"] == "[withheld: sensitive]" for e in rejects)
    assert not any(v in json.dumps(e.detail) for e in audit for v in SECRETS.values())
    user_lines = [line.content for line in conversation if line.role == "user"]
    assert len(user_lines) == 3
    assert all("[REDACTED" in line for line in user_lines), user_lines
    assert not any(v in line.content for line in conversation for v in SECRETS.values())
    # the session's own history (what later turns send to the model) is redacted as well
    last_prompt = completions(model)[-1].messages
    history = last_prompt[1:-1]
    assert history and all(not any(v in (m.content or "") for v in SECRETS.values()) for m in history)


def test_secrets_never_reach_any_file_on_disk(home: Path) -> None:
    turns, _ = run_session(Assistant, "sam", _secret_turns())
    assert len([op for t in turns for op in t.ops("reject")]) == 4
    # the agent is closed: scan every file the runtime left (db, -wal/-shm, diskcache, ...)
    assert _files_containing_secrets(home) == []


def test_restated_secret_from_input_is_not_stored(home: Path) -> None:
    def restate(req: ScriptedRequest) -> Extraction:
        # a model can only restate what it was sent: the secret, or the redaction marker
        seen = PASSWORD if PASSWORD in req.text else "[REDACTED:password]"
        return Extraction(memories=[memory(f"The user logs in to the VPN with {seen}", "fact")])

    turns, _ = run_session(
        Assistant,
        "sam",
        [
            (
                f"my password is {PASSWORD}",
                [
                    Intent(goal="share a credential", memory_query="vpn login", remember=True),
                    say("I will not keep that."),
                    restate,
                ],
            )
        ],
    )
    assert turns[0].error is None
    inspector = open_agent(Assistant)
    try:
        stored = [m.content for m in inspector.memory.long_term.all_entries("sam")]
    finally:
        inspector.close()
    assert not [c for c in stored if PASSWORD in c]
    assert _files_containing_secrets(home) == []


# --- 6. users never see each other's memories ------------------------------------------------
def test_users_are_isolated(home: Path) -> None:
    people = {
        "alice": ("The user prefers tabs for indentation", "The user's dog is called Rex"),
        "bob": ("The user prefers spaces for indentation", "The user's dog is called Fido"),
    }
    for user, (pref, fact) in people.items():
        turns, _ = run_session(
            Assistant,
            user,
            [
                (
                    f"I indent with {pref.split()[3]}; my dog is {fact.split()[-1]}",
                    [
                        Intent(goal="share facts", memory_query="indentation dog", remember=True),
                        say("Noted."),
                        Extraction(memories=[memory(pref, "preference"), memory(fact, "fact")]),
                    ],
                )
            ],
        )
        assert turns[0].error is None and len(turns[0].ops("write")) == 2

    for user, (pref, fact) in people.items():
        other_pref, other_fact = next(v for k, v in people.items() if k != user)
        turns, model = run_session(
            Assistant,
            user,
            [
                (
                    "What is my dog called, and how do I indent?",
                    [
                        Intent(
                            goal="recall dog and indentation",
                            task_type="question",
                            memory_query="dog called indentation",
                        ),
                        say("Answer."),
                    ],
                )
            ],
        )
        turn = turns[0]
        assert turn.error is None and turn.recollection is not None
        assert preference_contents(turn) == [pref]
        assert [r.memory.content for r in turn.recollection.relevant] == [fact]
        system = system_of(completions(model)[0])
        assert pref in system and fact in system
        assert other_pref not in all_text(model) and other_fact not in all_text(model)
        assert {r.memory.user_id for r in turn.recollection.relevant} == {user}

    inspector = open_agent(Assistant)
    try:
        exported = inspector.memory.export("alice")
    finally:
        inspector.close()
    dumped = json.dumps(exported)
    assert {m["user_id"] for m in exported["memories"]} == {"alice"}
    assert {a["user_id"] for a in exported["audit"]} == {"alice"}
    assert len(exported["memories"]) == 2
    assert "bob" not in dumped and "Fido" not in dumped and "spaces" not in dumped


# --- the loop's edges ------------------------------------------------------------------------
class ImpatientAssistant(Assistant):
    max_steps = 2
    skills = None
    policies = None


@pytest.mark.parametrize(
    ("agent_cls", "limit"),
    [(ImpatientAssistant, 2), (Assistant, 3)],
    ids=["class-max_steps", "FRAMEWORK_MAX_STEPS"],
)
def test_step_limit_ends_the_turn_with_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, agent_cls: type[Agent], limit: int
) -> None:
    monkeypatch.setenv("FRAMEWORK_MAX_STEPS", "3")  # the class attribute, when set, wins
    # the model would call the tool forever; the script ends exactly at the limit, so
    # assert_consumed proves no further completion was requested
    turns, model = run_session(
        agent_cls,
        "ada",
        [
            (
                "Note my commitments",
                [
                    Intent(goal="note commitments", memory_query="commitments"),
                    *[call("add_commitment", what=f"task {i}", due="friday") for i in range(limit)],
                    Extraction(),
                ],
            )
        ],
    )
    turn = turns[0]
    assert turn.error is not None
    assert "StepLimitExceeded" in turn.error and f"after {limit} reasoning steps" in turn.error
    assert turn.answer.startswith("I could not finish this")
    assert len(turn.tool_calls) == limit and all(t.ok for t in turn.tool_calls)
    assert len(completions(model)) == limit
    assert turn.outcome is not None and turn.outcome.status == "failure"


def test_anonymous_session_writes_nothing_long_term(home: Path) -> None:
    turns, _ = run_session(
        Assistant,
        None,
        [
            (
                "I prefer Python over JavaScript",
                [
                    say("Noted for this conversation."),  # no memory work is queued: no more calls
                ],
            )
        ],
    )
    turn = turns[0]
    assert turn.error is None
    assert turn.recollection is not None
    assert "anonymous session: long-term memory not consulted" in turn.recollection.warnings
    assert turn.memory_ops == [] and turn.memory_job is None and turn.usage.calls == 1

    inspector = open_agent(Assistant)
    try:
        with inspector.memory.engine.connect() as conn:
            rows = {
                t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                for t in ("memory", "audit", "memory_fts")
            }
    finally:
        inspector.close()
    assert rows == {"memory": 0, "audit": 0, "memory_fts": 0}


def test_asend_returns_a_turn(home: Path) -> None:
    model = ScriptedModel(
        [
            Intent(goal="state a preference", memory_query="theme", remember=True),
            say("Dark mode it is."),
            Extraction(memories=[memory("The user prefers dark mode in every editor", "preference")]),
        ]
    )
    agent = Assistant(model=model, embedder="hash")
    try:
        session = agent.session(user_id="ada")
        turn = asyncio.run(session.asend("I prefer dark mode in every editor"))
        model.assert_consumed()
        model.extend([say("You're welcome.")])  # trivial: no intent or extraction call
        thanks = asyncio.run(session.asend("thanks"))
        model.assert_consumed()
    finally:
        agent.close()
    assert isinstance(turn, Turn)
    assert turn.error is None and turn.answer == "Dark mode it is."
    assert [op.content for op in turn.ops("write")] == ["The user prefers dark mode in every editor"]
    assert isinstance(thanks, Turn) and thanks.error is None
    assert thanks.answer == "You're welcome."
    assert thanks.intent is not None and thanks.intent.trivial
    assert len(model.requests) == 4  # intent, answer, extraction; then only the answer
    # the second turn's prompt carries the first turn as conversation history
    assert [m.content for m in model.requests[-1].messages[1:3]] == [
        "I prefer dark mode in every editor",
        "Dark mode it is.",
    ]
