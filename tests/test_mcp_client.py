"""The MCP client against a real MCP server (tests/mcp_servers/files_server.py, started over stdio
by the agent itself): its tools become the agent's, calls reach it through the policy gate, a
denied call never reaches it, and a server that cannot start is a clear error."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework import Agent
from framework.errors import ConfigurationError
from framework.llm.testing import ScriptedModel, call, say
from framework.mcp import MCPServer
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.longterm import MemoryType
from framework.outcome import ToolCallRecord
from framework.steps.intent import Intent

SERVER = Path(__file__).resolve().parent / "mcp_servers" / "files_server.py"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text("The release train leaves on Thursdays.\n")
    (root / "keep.txt").write_text("precious\n")
    return root


def files_server(root: Path, **kwargs: Any) -> MCPServer:
    return MCPServer.stdio(
        "files", command=[sys.executable, str(SERVER)], env={"FILES_ROOT": str(root)}, **kwargs
    )


def calls_seen(root: Path) -> list[str]:
    log = root / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def agent(home: Path, files: Path) -> Iterator[tuple[Agent, ScriptedModel]]:
    model = ScriptedModel()
    agent = Agent(
        model=model,
        embedder="hash",
        mcp_servers=[files_server(files, effects={"delete_file": ["deletes_files"]})],
    )
    yield agent, model
    agent.close()


def test_the_servers_tools_are_the_agents_with_their_schemas(agent: tuple[Agent, ScriptedModel]) -> None:
    specs = agent[0].tool_specs
    assert set(specs) == {
        "files__read_file",
        "files__delete_file",
        "files__echo",
        "files__broken",
        "files__slow",
    }
    echo = specs["files__echo"].schema()["function"]
    assert echo["description"].startswith("Say the text back.")
    assert echo["parameters"]["required"] == ["text"]
    assert echo["parameters"]["properties"]["times"] == {"default": 1, "title": "Times", "type": "integer"}
    # declared by the entry, and `destructive` from the server's destructiveHint annotation
    assert specs["files__delete_file"].effects == {"deletes_files", "destructive"}
    assert specs["files__read_file"].effects == frozenset()
    assert specs["files__read_file"].origin == "tool:mcp/files/read_file"


def test_a_models_call_reaches_the_server_and_its_text_comes_back(
    agent: tuple[Agent, ScriptedModel], files: Path
) -> None:
    bot, model = agent
    model.extend(
        [
            Intent(goal="read notes", task_type="files"),
            call("files__read_file", path="notes.txt"),
            lambda request: say("seen" if "Thursdays" in request.text else "not seen"),
            Extraction(),
        ]
    )
    turn = bot.session("ada").send("what do my notes say?")
    [record] = turn.tool_calls
    assert record.verdict == "allow" and record.ok
    assert record.result == "The release train leaves on Thursdays.\n"
    assert turn.answer == "seen"  # the result reached the model
    assert calls_seen(files) == ["read_file notes.txt"]


def test_arguments_are_checked_against_the_servers_schema_before_the_call(
    agent: tuple[Agent, ScriptedModel], files: Path
) -> None:
    bot, model = agent
    model.extend(
        [
            Intent(goal="echo", task_type="chat"),
            call("files__echo", text="hi", times="twice"),
            call("files__echo", text="hi", times=2),
            say("done"),
        ]
    )
    turn = bot.session("ada").send("say hi twice")
    bad, good = turn.tool_calls
    assert bad.verdict == "error" and "times: 'twice' is not of type 'integer'" in bad.result
    assert good.ok and good.result == "hi hi"
    assert calls_seen(files) == ["echo hi"]


def test_an_error_result_is_a_failed_call(agent: tuple[Agent, ScriptedModel]) -> None:
    bot, model = agent
    model.extend(
        [Intent(goal="x", task_type="chat"), call("files__broken", reason="test"), say("sorry"), Extraction()]
    )  # a failed turn is worth an extraction
    turn = bot.session("ada").send("break it")
    [record] = turn.tool_calls
    assert not record.ok and record.result.startswith("FAILED: MCP server 'files': broken:")
    assert "broken on purpose: test" in record.result


def test_a_call_a_policy_denies_never_reaches_the_server(home: Path, files: Path) -> None:
    """The shipped destructive-command policy needs a human for `deletes_files`; nobody approves."""
    model = ScriptedModel(
        [
            Intent(goal="clean up", task_type="files"),
            call("files__delete_file", path="keep.txt"),
            say("no"),
            Extraction(),  # a refused call fails the turn: worth an extraction
        ]
    )
    declared = files_server(files, effects={"delete_file": ["deletes_files"]})
    bot = _with_policies(str(ROOT / "policies"), model, declared)
    try:
        turn = bot.session("ada").send("delete keep.txt")
    finally:
        bot.close()
    [record] = turn.tool_calls
    assert record.verdict == "approve" and record.approved is False
    assert record.result.startswith("DENIED") and not record.ok
    assert "destructive_command_approval@2" in record.policies
    assert (files / "keep.txt").read_text() == "precious\n"
    assert calls_seen(files) == []


def test_the_destructive_annotation_alone_is_enough_for_an_effects_policy(
    home: Path, files: Path, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "no_destruction.yaml").write_text(
        "name: no_destruction\nversion: 1\ndescription: Nothing destructive runs.\n"
        "applies_to: {tools: ['*'], effects: [destructive]}\nforbid: true\nenforcement: hard\n"
        "message: Destructive tools are forbidden here.\n"
    )
    model = ScriptedModel(
        [
            Intent(goal="clean", task_type="files"),
            call("files__delete_file", path="keep.txt"),
            say("no"),
            Extraction(),
        ]
    )
    bot = _with_policies(str(policies), model, files_server(files))  # no effects declared
    try:
        turn = bot.session("ada").send("delete keep.txt")
    finally:
        bot.close()
    [record] = turn.tool_calls
    assert record.verdict == "deny" and "forbidden" in record.result
    assert (files / "keep.txt").exists() and calls_seen(files) == []


def _with_policies(folder: str, model: ScriptedModel, server: MCPServer) -> Agent:
    governed = type("Governed", (Agent,), {"policies": folder, "mcp_servers": [server]})
    return governed(model=model, embedder="hash")  # type: ignore[no-any-return]


@pytest.mark.skipif(
    "origin" not in ToolCallRecord.__dataclass_fields__,
    reason="needs ToolCallRecord.origin, set by act from ToolSpec.origin and read by provenance",
)
def test_a_fact_from_an_mcp_tool_is_attributed_to_the_server_and_tool(
    agent: tuple[Agent, ScriptedModel],
) -> None:
    bot, model = agent
    model.extend(
        [
            Intent(goal="read notes", task_type="files", remember=True),
            call("files__read_file", path="notes.txt"),
            say("Thursdays."),
            Extraction(
                memories=[
                    MemoryCandidate(
                        content="The release train leaves on Thursdays",
                        memory_type=MemoryType.fact,
                        confidence=0.95,
                    )
                ]
            ),
        ]
    )
    turn = bot.session("ada").send("read my notes")
    [write] = turn.ops("write")
    stored = bot.memory.long_term.get("ada", write.memory_id)
    assert stored is not None and stored.source == "tool"
    assert stored.origin == "tool:mcp/files/read_file"


def test_servers_from_yaml_with_variables_from_the_environment(
    home: Path, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_FILES_ROOT", str(files))
    home.mkdir(parents=True, exist_ok=True)
    (home / "mcp.yaml").write_text(
        "mcp_servers:\n"
        f"  - name: notes\n    command: [{sys.executable!r}, {str(SERVER)!r}]\n"
        "    env: {FILES_ROOT: '${TEST_FILES_ROOT}'}\n"
        "    tools: [read_file, delete_file]\n"
        "    effects: {delete_file: [deletes_files]}\n"
    )
    bot = Agent(model=ScriptedModel(), embedder="hash")
    try:
        assert set(bot.tool_specs) == {"notes__read_file", "notes__delete_file"}
        assert bot.tool_specs["notes__delete_file"].effects == {"deletes_files", "destructive"}
        assert bot.tool_specs["notes__read_file"].function(path="notes.txt").startswith("The release train")
    finally:
        bot.close()
    assert not any(t.name == "framework-mcp" for t in threading.enumerate())


def test_a_server_that_cannot_start_is_a_clear_error(home: Path) -> None:
    missing = MCPServer.stdio("ghost", command=["no-such-mcp-server", "--flag"])
    with pytest.raises(
        ConfigurationError, match=r"MCP server 'ghost' \(command `no-such-mcp-server --flag`\)"
    ):
        Agent(model=ScriptedModel(), embedder="hash", mcp_servers=[missing])


def test_a_server_that_dies_at_start_shows_its_stderr(home: Path) -> None:
    dying = MCPServer.stdio(
        "dying",
        command=[sys.executable, "-c", "import sys; sys.stderr.write('no config found\\n'); sys.exit(3)"],
    )
    with pytest.raises(ConfigurationError) as error:
        Agent(model=ScriptedModel(), embedder="hash", mcp_servers=[dying])
    assert "MCP server 'dying'" in str(error.value) and "could not be started" in str(error.value)
    assert "no config found" in str(error.value)


def test_an_unreachable_http_server_is_a_clear_error(home: Path) -> None:
    gone = MCPServer.http("remote", url="http://127.0.0.1:9/mcp", connect_timeout_s=5)
    with pytest.raises(ConfigurationError, match=r"MCP server 'remote' \(URL http://127.0.0.1:9/mcp\)"):
        Agent(model=ScriptedModel(), embedder="hash", mcp_servers=[gone])


def test_effects_for_a_tool_the_server_does_not_list_are_an_error(home: Path, files: Path) -> None:
    wrong = files_server(files, effects={"remove_file": ["deletes_files"]})
    with pytest.raises(ConfigurationError, match=r"effects names \['remove_file'\], which it does not list"):
        Agent(model=ScriptedModel(), embedder="hash", mcp_servers=[wrong])
    assert not any(t.name == "framework-mcp" for t in threading.enumerate())


def test_a_call_that_takes_too_long_fails_and_the_session_goes_on(home: Path, files: Path) -> None:
    model = ScriptedModel(
        [
            Intent(goal="wait", task_type="chat"),
            call("files__slow", seconds=5),
            call("files__echo", text="still here"),
            say("done"),
            Extraction(),  # a partly failed turn is worth an extraction
        ]
    )
    bot = Agent(model=model, embedder="hash", mcp_servers=[files_server(files, timeout_s=1)])
    try:
        slow, echo = bot.session("ada").send("wait a bit").tool_calls
    finally:
        bot.close()
    assert not slow.ok and "MCP server 'files': slow got no answer" in slow.result
    assert echo.ok and echo.result == "still here"


def test_a_server_that_never_answers_times_out_at_start(home: Path) -> None:
    mute = MCPServer.stdio(
        "mute", command=[sys.executable, "-c", "import time; time.sleep(60)"], connect_timeout_s=1
    )
    with pytest.raises(ConfigurationError, match=r"'mute' .* did not answer within connect_timeout_s=1 s"):
        Agent(model=ScriptedModel(), embedder="hash", mcp_servers=[mute])
