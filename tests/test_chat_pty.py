"""`framework chat` in a real pseudo-terminal (pexpect): the answer appears as it streams, Ctrl-C
cancels the running turn and the chat goes on, the line history survives a restart (Up arrow),
and a missing API key is one line before any turn, with no traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def spawn(home: Path, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    environment = {**os.environ, "FRAMEWORK_HOME": str(home), "FRAMEWORK_EMBEDDER": "hash", **(env or {})}
    environment["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect is no terminal emulator: it cannot answer CPR
    environment.pop("FRAMEWORK_MODEL", None)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    child = pexpect.spawn(
        sys.executable,
        ["-m", "framework", "chat", "--user", "ada", *args],
        env=environment,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    return child


def scripted(path: Path, replies: list[dict[str, object]]) -> str:
    path.write_text(yaml.safe_dump(replies, sort_keys=False))
    return f"scripted:{path}"


def test_the_answer_appears_as_it_streams(tmp_path: Path) -> None:
    model = scripted(tmp_path / "s.yaml", [{"say": "one two three four five six", "pace": 0.4}])
    child = spawn(tmp_path / "home", "--model", model)
    child.expect("you>")
    child.send("thanks" + "\r")
    child.expect("agent> (\x1b\\[[0-9;]*m)*one")
    # the first words are on the screen while the last are still being generated
    assert child.expect(["six", pexpect.TIMEOUT], timeout=0.5) == 1
    child.expect("six")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_ctrl_c_cancels_the_running_answer_and_the_chat_goes_on(tmp_path: Path) -> None:
    model = scripted(
        tmp_path / "s.yaml",
        [{"say": "this answer is long and slow and will not finish", "pace": 0.5}, {"say": "Still here."}],
    )
    child = spawn(tmp_path / "home", "--model", model)
    child.expect("you>")
    child.send("thanks" + "\r")
    child.expect("agent> (\x1b\\[[0-9;]*m)*this")
    child.sendintr()
    child.expect("cancelled")
    child.expect("you>")
    child.send("ok" + "\r")
    child.expect("Still here.")
    child.expect("you>")
    child.send("/quit" + "\r")
    child.expect("bye")
    child.expect(pexpect.EOF)
    assert "finish" not in (child.before or "")


def test_the_line_history_is_kept_across_chats(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = scripted(tmp_path / "one.yaml", [{"say": "You are welcome."}])
    child = spawn(home, "--model", first)
    child.expect("you>")
    child.send("thanks a lot" + "\r")
    child.expect("You are welcome.")
    child.expect("you>")
    child.sendeof()  # Ctrl-D leaves
    child.expect("bye")
    child.expect(pexpect.EOF)

    second = scripted(tmp_path / "two.yaml", [{"say": "Welcome again."}])
    child = spawn(home, "--model", second)
    child.expect("you>")
    child.send("\x1b[A")  # Up: the last line of the previous chat
    child.expect("thanks a lot")
    child.send("\r")
    child.expect("Welcome again.")
    child.expect("you>")
    child.send("/quit" + "\r")
    child.expect(pexpect.EOF)


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"])
def test_a_missing_api_key_is_one_line_before_any_turn(tmp_path: Path, model: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("FRAMEWORK_API_BASE", None)
    env.pop("FRAMEWORK_MODEL", None)
    environment = {**env, "FRAMEWORK_HOME": str(tmp_path / "home"), "FRAMEWORK_EMBEDDER": "hash"}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    child = pexpect.spawn(
        sys.executable,
        ["-m", "framework", "chat", "--user", "ada", "--model", model],
        env=environment,
        encoding="utf-8",
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    output = (child.before or "").strip()
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    variable = "OPENAI_API_KEY" if model.startswith("openai") else "ANTHROPIC_API_KEY"
    assert variable in lines[0] and "--model" in lines[0] and "Traceback" not in output
    assert child.exitstatus == 1


def test_memory_commands_default_to_you_and_speak_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass
    import json

    from click.testing import CliRunner

    from framework.cli import main
    from framework.config import load_settings
    from framework.memory.manager import MemoryManager

    home = tmp_path / "home"
    manager = MemoryManager(load_settings(home, embedder="hash"))
    manager.remember(getpass.getuser(), "The user prefers tea over coffee", memory_type="preference")
    manager.close()
    runner = CliRunner()
    listed = runner.invoke(main, ["memory", "list", "--home", str(home), "--embedder", "hash", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [m["content"] for m in json.loads(listed.output)] == ["The user prefers tea over coffee"]
    recalled = runner.invoke(
        main, ["memory", "recall", "tea", "--home", str(home), "--embedder", "hash", "--json"]
    )
    assert recalled.exit_code == 0, recalled.output
    [item] = json.loads(recalled.output)["items"]
    assert item["memory"]["content"] == "The user prefers tea over coffee" and item["score"] > 0
    deleted = runner.invoke(main, ["memory", "delete-user", "--home", str(home), "--yes"])
    assert deleted.exit_code == 2 and "--user" in deleted.output  # erasure names its user, always
