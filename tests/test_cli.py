"""The command line, driven as a person would: type into `framework chat`, read the screen,
then check what was written to the database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

FRAMEWORK = [sys.executable, "-m", "framework"]


def run(
    args: list[str], home: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "FRAMEWORK_HOME": str(home), "FRAMEWORK_EMBEDDER": "hash", **(env or {})}
    environment.pop("FRAMEWORK_MODEL", None)
    return subprocess.run(
        FRAMEWORK + args, input=stdin, capture_output=True, text=True, env=environment, timeout=120
    )


def script(path: Path, replies: list[dict[str, object]]) -> str:
    path.write_text(yaml.safe_dump(replies, sort_keys=False))
    return f"scripted:{path}"


def test_chat_remembers_across_two_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = script(
        tmp_path / "one.yaml",
        [
            {
                "type": "Intent",
                "fill": {"goal": "state preference", "memory_query": "language", "remember": True},
            },
            {"say": "Noted: Python over JavaScript."},
            {
                "type": "Extraction",
                "fill": {
                    "memories": [
                        {
                            "content": "The user prefers Python over JavaScript",
                            "memory_type": "preference",
                            "confidence": 0.95,
                        }
                    ]
                },
            },
        ],
    )
    out = run(
        ["chat", "--user", "ada", "--session", "s1", "--model", first],
        home,
        "I prefer Python over JavaScript\n/memories\n/quit\n",
    )
    assert out.returncode == 0, out.stderr
    assert "agent> Noted: Python over JavaScript." in out.stdout
    assert "memory write #1 'The user prefers Python over JavaScript'" in out.stdout
    assert "#1 preference (0.95, explicit): The user prefers Python over JavaScript" in out.stdout
    assert "unused repl" not in out.stdout

    db = sqlite3.connect(home / "memory.db")
    rows = db.execute("SELECT user_id, content, memory_type, status FROM memory").fetchall()
    assert rows == [("ada", "The user prefers Python over JavaScript", "preference", "active")]
    assert db.execute("SELECT count(*) FROM audit WHERE operation = 'write'").fetchone() == (1,)
    db.close()

    second = script(
        tmp_path / "two.yaml",
        [
            {
                "type": "Intent",
                "fill": {"goal": "code", "task_type": "coding", "memory_query": "language preference"},
            },
            {"say": "def reverse(s): return s[::-1]"},
            {"type": "Extraction", "fill": {}},
        ],
    )
    out = run(
        ["chat", "--user", "ada", "--model", second, "--show", "steps"],
        home,
        "Reverse a string for me\n/why\n",
    )  # ends with Ctrl-D (end of input)
    assert out.returncode == 0, out.stderr
    assert "#1 preference (all active preferences are always included)" in out.stdout
    assert "agent> def reverse(s): return s[::-1]" in out.stdout
    assert "session" in out.stdout.splitlines()[-1] and "is saved" in out.stdout.splitlines()[-1]


def test_chat_asks_a_human_before_a_destructive_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    model = script(
        tmp_path / "s.yaml",
        [
            {"type": "Intent", "fill": {"goal": "clean up"}},
            {"call": {"name": "run_shell", "arguments": {"command": "rm -rf /tmp/build"}}},
            {"say": "Cleaned up."},
            {"type": "Extraction", "fill": {}},
        ],
    )
    out = run(
        ["chat", "--agent", "devops", "--user", "ada", "--model", model, "--show", "steps"],
        home,
        "Remove the build folder\ny\n/quit\n",
    )
    assert out.returncode == 0, out.stderr
    assert "approval needed: run_shell(command='rm -rf /tmp/build')" in out.stdout
    assert "[approve → approved] ok: removed /tmp/build" in out.stdout
    env = json.loads((home / "devops-environment.json").read_text())
    assert env["shell_log"] == ["rm -rf /tmp/build"]


def test_chat_without_a_model_says_how_to_configure_one(tmp_path: Path) -> None:
    out = run(["chat", "--user", "ada"], tmp_path / "home", "hello\n")
    assert out.returncode == 1
    assert "No model is configured" in out.stderr and "FRAMEWORK_MODEL" in out.stderr
    assert "Traceback" not in out.stderr


def test_chat_names_an_unknown_agent(tmp_path: Path) -> None:
    out = run(["chat", "--agent", "nope", "--user", "ada"], tmp_path / "home")
    assert out.returncode == 2
    assert "--agent" in out.stderr and "assistant" in out.stderr and "devops" in out.stderr


def test_memory_commands_list_export_forget_and_delete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    model = script(
        tmp_path / "s.yaml",
        [
            {"type": "Intent", "fill": {"goal": "share", "remember": True}},
            {"say": "Got it."},
            {
                "type": "Extraction",
                "fill": {
                    "memories": [{"content": "Ada lives in Lisbon", "memory_type": "fact", "confidence": 0.9}]
                },
            },
        ],
    )
    assert run(["chat", "--user", "ada", "--model", model], home, "I live in Lisbon\n").returncode == 0
    listed = run(["memory", "list", "--user", "ada"], home)
    assert "#1 fact 0.90 explicit: Ada lives in Lisbon" in listed.stdout
    exported = json.loads(run(["memory", "export", "--user", "ada"], home).stdout)
    assert [m["content"] for m in exported["memories"]] == ["Ada lives in Lisbon"]
    assert {"write", "read"} <= {a["operation"] for a in exported["audit"]}
    assert run(["memory", "list", "--user", "bob"], home).stdout.strip() == "no memories for user 'bob'"

    missing = run(["memory", "forget", "7", "--user", "ada"], home)
    assert missing.returncode == 1 and "no active memory #7" in missing.stderr
    assert run(["memory", "forget", "1", "--user", "ada", "--reason", "moved"], home).returncode == 0
    assert "[forgotten]" in run(["memory", "list", "--user", "ada", "--all"], home).stdout
    assert "forget #1 by user: moved" in run(["memory", "audit", "--user", "ada"], home).stdout

    deleted = run(["memory", "delete-user", "--user", "ada", "--yes"], home)
    assert "deleted 1 memories" in deleted.stdout
    db = sqlite3.connect(home / "memory.db")
    for table in ("memory", "audit"):
        assert db.execute(f"SELECT count(*) FROM {table} WHERE user_id = 'ada'").fetchone() == (0,)
    db.close()


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys, framework.cli; heavy = [m for m in ('litellm', 'torch', 'sqlmodel', 'sqlalchemy', "
        "'instructor', 'sentence_transformers') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "framework demo" in subprocess.run(FRAMEWORK + ["--help"], capture_output=True, text=True).stdout


def test_demo_runs_offline_and_labels_the_scripted_model(tmp_path: Path) -> None:
    out = run(["demo", "--home", str(tmp_path / "demo")], tmp_path / "unused")
    assert out.returncode == 0, out.stderr
    assert "ScriptedModel standing in for a real one" in out.stdout
    assert "memory supersede #3" in out.stdout and "memory forget #4" in out.stdout
    assert "[deny]" in out.stdout and "the demo's human says no" in out.stdout
    assert "files under FRAMEWORK_HOME containing Ada's API key: 0" in out.stdout
    assert "Nothing yet: we have not talked before." in out.stdout  # Bob sees nothing of Ada's


def test_memory_commands_merge_and_consent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    model = script(
        tmp_path / "s.yaml",
        [
            {"type": "Intent", "fill": {"goal": "share", "remember": True}},
            {"say": "Got it."},
            {
                "type": "Extraction",
                "fill": {
                    "memories": [
                        {"content": "Ada likes hiking", "memory_type": "preference", "confidence": 0.9},
                        {
                            "content": "Ada hikes in the Alps every summer",
                            "memory_type": "fact",
                            "confidence": 0.9,
                        },
                    ]
                },
            },
        ],
    )
    assert (
        run(["chat", "--user", "ada", "--model", model], home, "I like hiking in the Alps\n").returncode == 0
    )
    merged = run(
        ["memory", "merge", "1", "2", "--user", "ada", "--content", "Ada hikes in the Alps every summer"],
        home,
    )
    assert merged.returncode == 0 and "merged into #3" in merged.stdout
    bad = run(["memory", "merge", "1", "--user", "ada", "--content", "x"], home)
    assert bad.returncode == 1 and "at least two active memories" in bad.stderr
    assert (
        "#3 preference 0.90 merged: Ada hikes in the Alps every summer"
        in run(["memory", "list", "--user", "ada"], home).stdout
    )

    assert "opted out" in run(["memory", "opt-out", "--user", "ada"], home).stdout
    again = script(
        tmp_path / "t.yaml",
        [
            {"type": "Intent", "fill": {"goal": "share", "remember": True}},
            {"say": "Ok."},
            {
                "type": "Extraction",
                "fill": {
                    "memories": [{"content": "Ada owns a bike", "memory_type": "fact", "confidence": 0.9}]
                },
            },
        ],
    )
    out = run(["chat", "--user", "ada", "--model", again], home, "I own a bike\n")
    assert "memory reject  'Ada owns a bike' — user opted out of long-term memory" in out.stdout
    assert "nothing pending for user 'ada'" in run(["memory", "pending", "--user", "ada"], home).stdout
    missing = run(["memory", "approve", "9", "--user", "ada"], home)
    assert missing.returncode == 1 and "no pending write 9" in missing.stderr


def test_forget_cycle_and_reembed_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    model = script(
        tmp_path / "s.yaml",
        [
            {"type": "Intent", "fill": {"goal": "share", "remember": True}},
            {"say": "Got it."},
            {
                "type": "Extraction",
                "fill": {
                    "memories": [{"content": "Ada plays the cello", "memory_type": "fact", "confidence": 0.9}]
                },
            },
        ],
    )
    assert run(["chat", "--user", "ada", "--model", model], home, "I play the cello\n").returncode == 0
    cycle = run(["memory", "forget-cycle", "--dry-run"], home)
    assert cycle.stdout.strip() == "would change: expired 0, decayed 0, pruned 0, deleted 0"
    moved = run(["memory", "reembed", "--embedder", "hash-128"], home)
    assert moved.returncode == 0 and "re-embedded 1 memories; the store now uses hash-128" in moved.stdout
    refused = run(["memory", "list", "--user", "ada"], home)  # FRAMEWORK_EMBEDDER is still "hash"
    assert refused.returncode == 1 and "framework memory reembed" in refused.stderr
    assert (
        "Ada plays the cello"
        in run(["memory", "list", "--user", "ada"], home, env={"FRAMEWORK_EMBEDDER": "hash-128"}).stdout
    )
