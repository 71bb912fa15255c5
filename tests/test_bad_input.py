"""Bad input, everywhere the framework takes it: a session's ids and messages, config.yaml, and
skill and policy files. Each case goes through a public entry point (Agent, Session.send,
load_settings, the `framework` command) with real files, and expects one clear error that says
what is wrong and where (the argument, the setting, or file:line). Messages that are accepted
after cleaning produce a turn and a stored memory, and bad input never loses what was stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from framework import Agent, ScriptedModel, load_settings
from framework.cli import main
from framework.errors import ConfigurationError, DefinitionError
from framework.llm.testing import say
from framework.memory.governance.candidates import Extraction, MemoryCandidate
from framework.memory.longterm.records import MemorySource, MemoryType
from framework.steps.intent import Intent

CAP = 200_000  # the default of the max_message_chars setting
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)  # nine levels of nine: 387 million strings once expanded
POLICY = "name: no_fridays\napplies_to:\n  tools: [deploy]\nforbid: true\nenforcement: hard\n"
SKILL = "name: triage\nwhen_to_use: a bug report arrives\nsteps: [reproduce, fix]\n"
FIVE_MB = "description: " + "x" * 5_000_000 + "\n"


def agent_with(home: Path, *, policies: str | bytes | None = None, skill: str | None = None) -> Agent:
    """An Agent whose folders hold the given policy or skill file (in `home`'s parent)."""
    attrs: dict[str, Any] = {}
    if policies is not None:
        attrs["policies"] = str(write(home.parent / "policies" / "policy.yaml", policies).parent)
    if skill is not None:
        attrs["skills"] = str(write(home.parent / "skills" / "skill.yaml", skill).parent)
    cls = type("Guarded", (Agent,), attrs)
    return cls(model=ScriptedModel(), embedder="hash")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def send(home: Path, text: str, user: str | None = "ada", session: str | None = None) -> object:
    agent = Agent(model=ScriptedModel(), embedder="hash")
    try:
        return agent.session(user, session).send(text)
    finally:
        agent.close()


def settings_with(home: Path, config: str) -> Callable[[], object]:
    write(home / "config.yaml", config)
    return lambda: load_settings()


POLICY_FILE = "{parent}/policies/policy.yaml"
SKILL_FILE = "{parent}/skills/skill.yaml"
CONFIG_FILE = "{home}/config.yaml"
NOT_UTF8 = b"name: no_fridays\napplies_to: {tools: [deploy]}\nmessage: caf\xe9\nforbid: true\n"
LATIN1_AT = NOT_UTF8.index(b"\xe9")

# id -> (what to do, the error it must raise, what the error must say: {home}, {parent} filled in)
CASES: dict[str, tuple[Callable[[Path], object], type[Exception], str]] = {
    "surrogate in user id": (
        lambda h: send(h, "hello there", user="ada\ud800"),
        ValueError,
        "user_id 'ada\\ud800' contains a lone surrogate (U+D800) at position 3: ids are printable text",
    ),
    "surrogate in session id": (
        lambda h: send(h, "hello there", session="s\udfff"),
        ValueError,
        "session_id 's\\udfff' contains a lone surrogate (U+DFFF) at position 1",
    ),
    "NUL in message": (
        lambda h: send(h, "hello\x00there"),
        ValueError,
        "send(text): the message contains a NUL character (\\x00) at position 5: remove it",
    ),
    "empty user id": (
        lambda h: send(h, "hello", user=""),
        ValueError,
        "user_id is empty or only whitespace: give a real id (or None)",
    ),
    "whitespace user id": (
        lambda h: send(h, "hello", user=" \t "),
        ValueError,
        "user_id is empty or only whitespace",
    ),
    "empty session id": (
        lambda h: send(h, "hello", session=""),
        ValueError,
        "session_id is empty or only whitespace",
    ),
    "whitespace session id": (
        lambda h: send(h, "hi", session="\n"),
        ValueError,
        "session_id is empty or only whitespace",
    ),
    "control character in user id": (
        lambda h: send(h, "hello", user="ada\x1b[31m"),
        ValueError,
        "user_id 'ada\\x1b[31m' contains a control character (U+001B) at position 3",
    ),
    "1 MB user id": (
        lambda h: send(h, "hello", user="u" * 1_000_000),
        ValueError,
        "user_id is 1,000,000 characters long, over the limit of 256",
    ),
    "1 MB session id": (
        lambda h: send(h, "hello", session="s" * 1_000_000),
        ValueError,
        "session_id is 1,000,000 characters long, over the limit of 256",
    ),
    "message just over the cap": (
        lambda h: send(h, "x" * (CAP + 1)),
        ValueError,
        "send(text): the message is 200,001 characters, over the max_message_chars setting (200,000; "
        "env FRAMEWORK_MAX_MESSAGE_CHARS): shorten it, or raise the setting",
    ),
    "alias bomb in config.yaml": (
        lambda h: settings_with(h, BOMB)(),
        ConfigurationError,
        CONFIG_FILE + ":2: alias *a refused: aliases can expand a small file into a huge one",
    ),
    "alias bomb in a policy": (
        lambda h: agent_with(h, policies=BOMB),
        DefinitionError,
        POLICY_FILE + ":2: alias *a refused",
    ),
    "alias bomb in a skill": (
        lambda h: agent_with(h, skill=BOMB),
        DefinitionError,
        SKILL_FILE + ":2: alias *a refused",
    ),
    "5 MB policy file": (
        lambda h: agent_with(h, policies=FIVE_MB),
        DefinitionError,
        POLICY_FILE + ": 5,000,014 bytes, over the 1,000,000-byte limit for YAML files",
    ),
    "5 MB config.yaml": (
        lambda h: settings_with(h, FIVE_MB)(),
        ConfigurationError,
        CONFIG_FILE + ": 5,000,014 bytes, over the 1,000,000-byte limit for YAML files",
    ),
    "non-UTF-8 policy file": (
        lambda h: agent_with(h, policies=NOT_UTF8),
        DefinitionError,
        POLICY_FILE + f":3: not UTF-8: byte 0xe9 at offset {LATIN1_AT}; save the file as UTF-8",
    ),
    "unknown key in a policy": (
        lambda h: agent_with(h, policies=POLICY.replace("enforcement:", "enforcment:")),
        DefinitionError,
        POLICY_FILE + ":5: field enforcment: unknown key (did you mean 'enforcement'?)",
    ),
    "wrong type in a policy": (
        lambda h: agent_with(h, policies=POLICY.replace("forbid: true", "forbid: maybe")),
        DefinitionError,
        POLICY_FILE + ":4: field forbid: expected true or false, got 'maybe'",
    ),
    "unknown enum value in a policy": (
        lambda h: agent_with(h, policies=POLICY.replace("enforcement: hard", "enforcement: Hard")),
        DefinitionError,
        POLICY_FILE + ":5: field enforcement: 'Hard' is not one of: hard, soft — the agent does not start",
    ),
    "key given twice in a policy": (
        lambda h: agent_with(h, policies=POLICY + "enforcement: soft\n"),
        DefinitionError,
        POLICY_FILE + ":6: key 'enforcement' is given twice (first on line 5)",
    ),
    "NUL escape in a policy": (
        lambda h: agent_with(h, policies=POLICY.replace("name: no_fridays", 'name: "no\\0fridays"')),
        DefinitionError,
        POLICY_FILE + ":1: an escape makes a NUL (U+0000), which cannot be stored: remove it",
    ),
    "unknown key in config.yaml": (
        lambda h: settings_with(h, "max_step: 3\n")(),
        ConfigurationError,
        CONFIG_FILE + ":1: unknown setting 'max_step' (did you mean 'max_steps'?); known: ",
    ),
    "wrong type in config.yaml": (
        lambda h: settings_with(h, "model: openai/gpt-4o-mini\nmax_steps: many\n")(),
        ConfigurationError,
        "setting 'max_steps' from file " + CONFIG_FILE + ":2 must be a number, got 'many'",
    ),
    "unknown enum value in config.yaml": (
        lambda h: settings_with(h, "\nembedder: minilm\n")(),
        ConfigurationError,
        CONFIG_FILE + ":2: setting 'embedder': 'minilm' is not one of: local, hash, litellm:<model>",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_error_naming_what_and_where(home: Path, case: str) -> None:
    act, error, says = CASES[case]
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        act(home)
    assert time.perf_counter() - started < 5  # refused at once: no expansion, no parse of 5 MB
    assert says.format(home=home, parent=home.parent) in str(raised.value)
    assert len(str(raised.value)) < 1_000  # one line, never the 1 MB input echoed back


def test_a_policy_folder_broken_at_start_up_stops_the_agent_listing_every_problem(home: Path) -> None:
    folder = home.parent / "policies"
    write(folder / "good.yaml", POLICY)
    typo = write(folder / "typo.yaml", POLICY.replace("no_fridays", "typo").replace("hard", "Hard"))
    shape = write(folder / "shape.yaml", "name: shape\napplies_to: deploy\n")
    with pytest.raises(DefinitionError) as raised:
        type("Guarded", (Agent,), {"policies": str(folder)})(model=ScriptedModel(), embedder="hash")
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("2 skill/policy problems; the agent does not start until they are fixed")
    assert f"framework skills list --policies {folder}" in lines[0]
    assert lines[1:] == [
        f"  {shape}:2: field applies_to: expected a mapping (key: value), got 'deploy'",
        f"  {typo}:5: field enforcement: 'Hard' is not one of: hard, soft",
    ]


def test_two_policies_with_one_name_stop_the_agent_one_rule_would_not_be_enforced(home: Path) -> None:
    folder = home.parent / "policies"
    first = write(folder / "a.yaml", POLICY)
    second = write(folder / "b.yaml", POLICY.replace("[deploy]", "[drop_table]"))
    with pytest.raises(DefinitionError, match="is not enforced") as raised:
        type("Guarded", (Agent,), {"policies": str(folder)})(model=ScriptedModel(), embedder="hash")
    assert str(raised.value).startswith(
        f"{second}: policy no_fridays@1 is not enforced: {first} (no_fridays@1) has its name; give each "
        "policy its own name, or mark the old one `deprecated: true`"
    )


def test_skills_list_reports_unreadable_files_and_does_not_raise(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    bomb = write(policies / "bomb.yaml", BOMB)
    big = write(policies / "big.yaml", FIVE_MB)
    latin1 = write(policies / "latin1.yaml", NOT_UTF8)
    write(policies / "good.yaml", POLICY)
    result = CliRunner().invoke(
        main, ["skills", "list", "--skills", str(tmp_path / "none"), "--policies", str(policies)]
    )
    assert result.exit_code == 1 and not isinstance(result.exception, Exception)  # exits 1, no crash
    assert f"error: {bomb}:2: alias *a refused" in result.output
    assert f"error: {big}: 5,000,014 bytes, over the 1,000,000-byte limit" in result.output
    assert f"error: {latin1}:3: not UTF-8: byte 0xe9" in result.output
    assert "policy  no_fridays@1" in result.output


def test_chat_shows_a_broken_config_as_one_line(home: Path) -> None:
    config = write(home / "config.yaml", BOMB)
    result = CliRunner().invoke(main, ["chat", "--home", str(home), "--user", "ada"], input="/quit\n")
    assert result.exit_code == 1 and not isinstance(result.exception, ConfigurationError)
    assert result.output.startswith(f"Error: {config}:2: alias *a refused")
    assert len(result.output.strip().splitlines()) == 1


def test_chat_shows_a_policy_broken_at_start_up_as_one_line(home: Path) -> None:
    policy = write(home.parent / "policies" / "policy.yaml", POLICY.replace("hard", "Hard"))
    agent_file = write(
        home.parent / "guarded.py",
        "from framework import Agent\n\nclass Guarded(Agent):\n    policies = 'policies'\n",
    )
    result = CliRunner().invoke(
        main,
        ["chat", "--agent", str(agent_file), "--home", str(home), "--model", "scripted"],
        input="/quit\n",
    )
    assert result.exit_code == 1 and not isinstance(result.exception, DefinitionError)
    assert result.output.startswith(f"Error: {policy}:5: field enforcement: 'Hard' is not one of: hard, soft")


# --- accepted after cleaning: a turn, a stored memory, no crash anywhere ---------------------------
PREFERENCE = "The user prefers dark mode in every editor"
AT_CAP = "I prefer dark mode in every editor " + "x" * (CAP - len("I prefer dark mode in every editor "))


def remember(content: str) -> list[Any]:
    candidate = MemoryCandidate(
        content=content, memory_type=MemoryType.preference, confidence=0.95, source=MemorySource.explicit
    )
    return [
        Intent(goal="state a preference", memory_query="editor theme", remember=True),
        say("Noted: dark mode."),
        Extraction(memories=[candidate]),
    ]


@pytest.mark.both_backends  # the write, the full-text index and the vectors, on SQLite and PostgreSQL
@pytest.mark.parametrize(
    ("text", "stored_as"),
    [
        ("I prefer dark mode \ud800 in every editor", "I prefer dark mode \ufffd in every editor"),
        (
            "I prefer dark mode \udfff\ud800 in every editor",
            "I prefer dark mode \ufffd\ufffd in every editor",
        ),
        ("I prefer dark mode \ud83d\ude00 in every editor", "I prefer dark mode \U0001f600 in every editor"),
        ("I prefer dark mode\x07\x1b in every editor", "I prefer dark mode\x07\x1b in every editor"),
        (AT_CAP, None),
    ],
    ids=["lone surrogate", "reversed pair", "pair as two code points", "control characters", "at the cap"],
)
def test_accepted_messages_make_a_turn_and_a_stored_memory(
    home: Path, text: str, stored_as: str | None
) -> None:
    assert len(text) <= CAP
    model = ScriptedModel(
        remember(PREFERENCE + " \ufffd" if stored_as and "\ufffd" in stored_as else PREFERENCE)
    )
    agent = Agent(model=model, embedder="hash")
    try:
        session = agent.session("ada", "s1")
        turn = session.send(text)
        model.assert_consumed()
        assert turn.error is None and turn.answer == "Noted: dark mode."
        assert [op.kind for op in turn.memory_ops] == ["write"]
        conversation = agent.memory.load_state("ada", "s1").conversation  # working memory (JSON)
        assert conversation[0].content == (stored_as or text)
        stored = agent.memory.long_term.all_entries("ada")
        assert [m.content.startswith(PREFERENCE) for m in stored] == [True]
        # bad input afterwards is refused, and loses nothing that was stored
        for bad in ("nul\x00", "x" * (CAP + 1)):
            with pytest.raises(ValueError):
                session.send(bad)
            with pytest.raises(ValueError):
                asyncio.run(session.asend(bad))
        # the long line is folded into the summary after the answer (the answer's prompt left it out)
        summary = [say("The user prefers dark mode.")] if text == AT_CAP else []
        model.extend([say("You're welcome."), *summary])
        assert session.send("thanks").error is None
        model.assert_consumed()
        kept = agent.memory.long_term.all_entries("ada")
        assert [(m.id, m.content, m.status) for m in kept] == [(m.id, m.content, m.status) for m in stored]
        state = agent.memory.load_state("ada", "s1")
        assert [line.content for line in state.conversation][-2:] == ["thanks", "You're welcome."]
        assert len(state.conversation) == (2 if summary else 4) and bool(state.summary) == bool(summary)
    finally:
        agent.close()
    log = (home / "logs" / "framework.log").read_text(encoding="utf-8")
    assert "session=s1" in log


def test_max_message_chars_is_a_setting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_MAX_MESSAGE_CHARS", "10")
    assert load_settings().max_message_chars == 10
    with pytest.raises(ValueError, match=r"11 characters, over the max_message_chars setting \(10;"):
        send(home, "x" * 11)
    write(home / "config.yaml", "max_message_chars: 12\n")
    monkeypatch.delenv("FRAMEWORK_MAX_MESSAGE_CHARS")
    assert load_settings().max_message_chars == 12
    assert load_settings().sources["max_message_chars"] == f"file {home / 'config.yaml'}"


def test_anonymous_and_generated_ids_stay_valid(home: Path) -> None:
    agent = Agent(model=ScriptedModel(), embedder="hash")
    try:
        session = agent.session(None)
        assert session.user_id is None and len(session.session_id) == 12
        assert agent.session("ada", "a-b_c.d:1").session_id == "a-b_c.d:1"
        assert agent.session("Ådå 🙂").user_id == "Ådå 🙂"
    finally:
        agent.close()
