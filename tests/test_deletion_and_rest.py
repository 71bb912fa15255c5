"""Deletion without residue, and memory at rest (issue 10, items 4 and 5).

After `framework memory delete-user`, no file under FRAMEWORK_HOME (database, WAL, SHM, working
cache, logs) holds any of the user's words, and on PostgreSQL no row of any table does; `forget
--hard` does the same for one memory. Everything the framework creates under its home is
owner-only whatever the umask. With an encryption key the store and the working cache hold no
plaintext, and a wrong or missing key is a clear error that leaves the store as it was."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework import Agent, MemoryManager, ScriptedModel, WritePolicy, load_settings
from framework.cli import main
from framework.errors import ConfigurationError
from framework.llm.testing import say
from framework.memory.governance.candidates import Extraction, MemoryCandidate
from framework.memory.longterm.erasure import erased_user
from framework.memory.working import open_working_store
from framework.steps.intent import Intent

USER, BYSTANDER = "user-xylophant", "user-bystander"
# One unique word per place the user's words were kept before deletion.
WORDS = {
    "memory written by a turn": "zanzibarite",
    "conversation only": "snorkelwhistle",
    "memory written directly": "quokkaberry",
    "pending write": "marzipanvolt",
    "soft-forgotten memory": "gobbledyrat",
    "audit reason": "wibblequest",
    "recall query": "frobnicatory",
    "rolling summary": "glimmerwump",
    "user id (settings, keys)": USER,
}
IN_WORKING_MEMORY = {"conversation only", "rolling summary"}
NEVER_STORED = {"recall query"}  # a recall's audit row keeps its length, never its words
IN_THE_STORE = [w for place, w in WORDS.items() if place not in IN_WORKING_MEMORY | NEVER_STORED]
KEPT = "kumquatzee"  # the bystander's


class Helper(Agent):
    name = "helper"
    instructions = "Help the user and remember what matters to them."


def cli(*args: str) -> str:
    out = CliRunner().invoke(main, list(args))
    assert out.exit_code == 0, out.output
    return out.output


def files_holding(home: Path, words: list[str]) -> list[str]:
    """Every (word, file) where a file under `home` holds the word's bytes."""
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files, f"nothing under {home}"
    return [f"{w!r} in {p.relative_to(home)}" for p in files for w in words if w.encode() in p.read_bytes()]


def remembering_turn(content: str) -> list[object]:
    memory = MemoryCandidate(content=content, memory_type="fact", confidence=0.95)  # type: ignore[arg-type]
    return [
        Intent(goal="share", memory_query="share", remember=True),
        say("Noted."),
        Extraction(memories=[memory]),
    ]


def fill(home: Path) -> None:
    """The user's words in every place memory keeps them, and a bystander's memory."""
    model = ScriptedModel(
        remembering_turn("The user collects zanzibarite stones")  # type: ignore[arg-type]
    )
    agent = Helper(model=model, embedder="hash")
    agent.session(USER, "s1").send("I collect zanzibarite stones, and snorkelwhistle is my dog")
    model.assert_consumed()
    agent.close()

    m = MemoryManager(load_settings(), embedder="hash")
    m.remember(USER, "The user eats quokkaberry jam")
    gone = m.remember(USER, "The user owns a gobbledyrat")
    assert gone.memory_id is not None
    m.long_term.forget(USER, gone.memory_id, actor="user", reason="wibblequest made me sad")
    m.recall(USER, "frobnicatory zanzibarite")
    state = m.load_state(USER, "s2")  # a second session, its older lines folded into a summary
    state.summary = "The user talked about glimmerwump"
    m.save_state(state)
    m.consent.set_opted_out(USER, True)
    m.consent.set_opted_out(USER, False)
    m.remember(BYSTANDER, f"The bystander likes {KEPT}")
    m.close()
    waiting = MemoryManager(load_settings(), embedder="hash", write_policy=WritePolicy(require_approval=True))
    assert waiting.remember(USER, "The user grows marzipanvolt plants").kind == "pending"
    waiting.close()


def every_row(raw_sql: Callable[..., list[tuple]], backend: str) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(table, row as text) for every row of every table of the store."""
    if backend == "postgres":
        tables = [r[0] for r in raw_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    else:
        tables = [r[0] for r in raw_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [(t, repr(row)) for t in tables for row in raw_sql(f'SELECT * FROM "{t}"')]


@pytest.mark.both_backends
def test_delete_user_leaves_no_row_holding_the_users_words(
    home: Path,
    backend: str,
    raw_sql: Callable[..., list[tuple]],  # type: ignore[type-arg]
) -> None:
    fill(home)
    before = every_row(raw_sql, backend)
    assert [w for w in IN_THE_STORE if not any(w in row for _, row in before)] == []  # they were there

    out = cli("memory", "delete-user", "--user", USER, "--yes")
    assert "deleted 3 memories and 2 sessions" in out

    rows = every_row(raw_sql, backend)
    assert [(t, w) for t, row in rows for w in WORDS.values() if w in row] == []
    assert any(KEPT in row for _, row in rows)
    # The audit keeps each event, under a hash of the id, with the framework's own reasons only.
    events = raw_sql("SELECT operation, actor, reason FROM audit WHERE user_id = ?", erased_user(USER))
    assert {("write", "agent", "new"), ("read", "runtime", "recall"), ("pending", "runtime", "new")} <= set(
        events
    )
    assert ("forget", "user", "[text withheld]") in events
    assert ("delete_user", "user", "erasure requested") in events
    assert ("consent", "user", "opted out of long-term memory") in events
    assert raw_sql("SELECT count(*) FROM audit WHERE user_id = ?", USER) == [(0,)]
    m = MemoryManager(load_settings(), embedder="hash")
    try:
        assert m.export(USER) == {"user_id": USER, "memories": [], "audit": []}
        assert [e["content"] for e in m.export(BYSTANDER)["memories"]] == [f"The bystander likes {KEPT}"]
        assert m.load_state(USER, "s1").conversation == [] and m.queue.pending(USER) == []
    finally:
        m.close()


def test_delete_user_leaves_no_byte_of_the_users_words_in_any_file(home: Path) -> None:
    fill(home)
    assert files_holding(home, list(WORDS.values()))  # before: the words are on disk
    cli("memory", "delete-user", "--user", USER, "--yes")
    assert files_holding(home, list(WORDS.values())) == []
    assert files_holding(home, [KEPT]) != []  # the search does find what is still stored


def test_the_log_holds_no_memory_text(home: Path) -> None:
    fill(home)
    log = (home / "logs" / "framework.log").read_text()
    assert "memory write" in log  # the turn's write was logged: by id, kind and reason
    assert [w for w in WORDS.values() if w in log] == []


@pytest.mark.both_backends
def test_forget_hard_removes_one_memorys_words_and_keeps_the_others(
    home: Path,
    backend: str,
    raw_sql: Callable[..., list[tuple]],  # type: ignore[type-arg]
) -> None:
    m = MemoryManager(load_settings(), embedder="hash")
    doomed = m.remember(USER, "The user keeps a pet axolotlvine").memory_id
    m.remember(USER, "The user drinks rooibosquark")
    m.recall(USER, "axolotlvine pet")
    m.close()
    assert doomed is not None

    cli("memory", "forget", str(doomed), "--user", USER, "--hard")

    rows = every_row(raw_sql, backend)
    assert [t for t, row in rows if "axolotlvine" in row] == []
    assert any("rooibosquark" in row for _, row in rows)
    assert ("delete", "user") in raw_sql("SELECT operation, actor FROM audit WHERE memory_id = ?", doomed)
    if backend == "sqlite":
        assert files_holding(home, ["axolotlvine"]) == []
        assert files_holding(home, ["rooibosquark"]) != []


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_everything_under_home_is_owner_only_whatever_the_umask(home: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        fill(home)
        m = MemoryManager(load_settings(), embedder="hash")  # open: -wal and -shm exist now
        paths = [home, *home.rglob("*")]
        modes = {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in paths}
        m.close()
    finally:
        os.umask(old)
    assert {"memory.db", "memory.db-wal", "logs/framework.log", "working/cache.db"} <= set(modes)
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (home / name).is_dir() or name == "." else 0o600)
    }
    assert wrong == {}


def test_files_an_older_version_left_open_are_tightened(home: Path) -> None:
    MemoryManager(load_settings(), embedder="hash").close()
    for path in (home / "memory.db", home / "working"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    MemoryManager(load_settings(), embedder="hash").close()
    assert stat.S_IMODE((home / "memory.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "working").stat().st_mode) == 0o700


# --- encryption at rest -----------------------------------------------------------------------
@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("sqlcipher3", reason="encryption at rest needs pip install -e '.[encryption]'")
    pytest.importorskip("cryptography", reason="encryption at rest needs pip install -e '.[encryption]'")
    value = secrets.token_hex(32)
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", value)
    monkeypatch.delenv("FRAMEWORK_ENCRYPTION_KEY_FILE", raising=False)
    return value


def digest(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and "logs" not in p.parts
    }


def test_an_encrypted_store_holds_no_plaintext_and_works(home: Path, key: str) -> None:
    fill(home)
    listed = cli("memory", "list", "--user", USER)
    assert "zanzibarite" in listed and "quokkaberry" in listed
    exported = cli("memory", "export", "--user", USER)
    assert "zanzibarite" in exported
    m = MemoryManager(load_settings(), embedder="hash")
    try:
        found = m.recall(USER, "zanzibarite stones").relevant
        assert [r.memory.content for r in found][:1] == ["The user collects zanzibarite stones"]
        assert "snorkelwhistle" in m.load_state(USER, "s1").conversation[0].content
    finally:
        m.close()
    stored = [p for p in home.rglob("*") if p.is_file() and "logs" not in p.parts]
    assert {"memory.db", "working/cache.db"} <= {str(p.relative_to(home)) for p in stored}
    words = [w for w in [*WORDS.values(), KEPT] if w != USER]  # key names may hold the ids
    assert [(w, str(p)) for p in stored for w in words if w.encode() in p.read_bytes()] == []
    assert not (home / "memory.db").read_bytes().startswith(b"SQLite format 3")  # not even its header
    assert key not in cli("config")
    assert "encryption_key: ***" in cli("config")
    cli("memory", "delete-user", "--user", USER, "--yes")  # erasure works on SQLCipher too (VACUUM)
    assert cli("memory", "list", "--user", USER).startswith("no memories")
    assert "kumquatzee" in cli("memory", "list", "--user", BYSTANDER)


def test_a_wrong_or_missing_key_is_a_clear_error_and_the_store_is_left_intact(
    home: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(home)
    before = digest(home)
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", secrets.token_hex(32))
    with pytest.raises(ConfigurationError, match="does not open with the configured key.*encryption_key"):
        MemoryManager(load_settings(), embedder="hash")
    with pytest.raises(ConfigurationError, match="does not open with the configured key.*encryption_key"):
        open_working_store(load_settings())
    monkeypatch.delenv("FRAMEWORK_ENCRYPTION_KEY")
    with pytest.raises(ConfigurationError, match="memory.db is encrypted.*encryption_key"):
        MemoryManager(load_settings(), embedder="hash")
    with pytest.raises(ConfigurationError, match="working memory in .* is encrypted.*encryption_key"):
        open_working_store(load_settings())
    refused = CliRunner().invoke(main, ["memory", "list", "--user", USER])
    assert refused.exit_code != 0 and "FRAMEWORK_ENCRYPTION_KEY" in refused.output
    assert digest(home) == before

    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", key)  # the right key still opens all of it
    assert "quokkaberry" in cli("memory", "list", "--user", USER)


def test_a_key_file_works_and_a_plaintext_store_opened_with_a_key_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sqlcipher3", reason="encryption at rest needs pip install -e '.[encryption]'")
    MemoryManager(load_settings(), embedder="hash").close()  # a plaintext store
    key_file = tmp_path / "key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY_FILE", str(key_file))
    with pytest.raises(ConfigurationError, match="memory.db is a plaintext store but encryption_key"):
        MemoryManager(load_settings(), embedder="hash")
    with pytest.raises(ConfigurationError, match="not encrypted but encryption_key"):
        open_working_store(load_settings())

    monkeypatch.setenv("FRAMEWORK_HOME", str(tmp_path / "encrypted"))
    m = MemoryManager(load_settings(), embedder="hash")
    m.remember(USER, "The user reads tundrabloom poetry")
    m.close()
    assert files_holding(tmp_path / "encrypted", ["tundrabloom"]) == []
    assert "tundrabloom" in cli("memory", "list", "--user", USER)


def test_key_settings_are_checked_and_never_shown(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", "short")
    with pytest.raises(ConfigurationError, match="'encryption_key' from env FRAMEWORK_ENCRYPTION_KEY") as err:
        load_settings()
    assert "short" not in str(err.value)
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="both set"):
        load_settings()
    monkeypatch.delenv("FRAMEWORK_ENCRYPTION_KEY")
    with pytest.raises(ConfigurationError, match="'encryption_key_file'.*cannot read"):
        load_settings()
    monkeypatch.delenv("FRAMEWORK_ENCRYPTION_KEY_FILE")
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", "x" * 40)
    settings = load_settings()
    assert "x" * 40 not in repr(settings) and "x" * 40 not in str(settings.database_url)


# --- Redis working memory: sealed values, deletion ---------------------------------------------
@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    folder = tmp_path_factory.mktemp("redis")
    args = [binary, "--save", "", "--appendonly", "no", "--port", str(port), "--bind", "127.0.0.1"]
    server = subprocess.Popen([*args, "--dir", str(folder)], stdout=subprocess.DEVNULL)
    url, deadline = f"redis://127.0.0.1:{port}/0", time.monotonic() + 10
    client = redis.Redis.from_url(url)
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_redis_working_memory_is_sealed_and_deleted_whole(
    home: Path, key: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    monkeypatch.setenv("FRAMEWORK_WORKING_URL", redis_url)
    fill(home)
    values = {k: client.get(k) for k in client.scan_iter("*")}
    assert any(USER in k for k in values) and all(v.startswith("fwenc1:") for v in values.values())
    assert [w for w in WORDS.values() if w != USER and any(w in v for v in values.values())] == []
    assert [k for k in values if any(w in k for w in WORDS.values() if w != USER)] == []

    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", secrets.token_hex(32))
    with pytest.raises(ConfigurationError, match="does not open with the configured key"):
        open_working_store(load_settings())
    monkeypatch.setenv("FRAMEWORK_ENCRYPTION_KEY", key)

    cli("memory", "delete-user", "--user", USER, "--yes")
    assert [k for k in client.scan_iter("*") if USER in k] == []
    client.close()


def test_what_llm_libraries_log_is_redacted(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    Helper(model=ScriptedModel(), embedder="hash").close()  # building an agent installs the filter
    secret = "sk-proj-Zx81kQ2mVb7TnR4pLw9sYc3uHd6fJe0a"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("LiteLLM").warning("request body: my key is %s", secret)
        logging.getLogger("instructor.v2.retry").error("retrying after: pw: Summer2024!")
    assert secret not in caplog.text and "Summer2024!" not in caplog.text
    assert "[REDACTED:" in caplog.text
