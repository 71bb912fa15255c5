"""Working memory: the same behaviour tests against both backends, diskcache and a real
redis-server started by this test session on a free loopback port."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.config import Settings, load_settings
from framework.errors import ConfigurationError, StoreError
from framework.memory.working import (
    ConversationLine,
    DiskcacheWorkingStore,
    ToolRecord,
    WorkingState,
    WorkingStore,
    open_working_store,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server): Redis backend untested")
    import redis

    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [
            binary,
            "--save",
            "",
            "--appendonly",
            "no",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                output = server.stdout.read() if server.stdout else ""
                pytest.fail(f"redis-server did not start on port {port}:\n{output}")
            time.sleep(0.05)
    client.close()
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(params=["diskcache", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FRAMEWORK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FRAMEWORK_WORKING_TTL_S", raising=False)
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        import redis

        with redis.Redis.from_url(url) as client:
            client.flushdb()
        monkeypatch.setenv("FRAMEWORK_WORKING_URL", url)
    else:
        monkeypatch.delenv("FRAMEWORK_WORKING_URL", raising=False)
    return load_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[WorkingStore]:
    opened = open_working_store(settings)
    yield opened
    opened.close()


def full_state(user: str | None, session: str, goal: str) -> WorkingState:
    state = WorkingState(
        user_id=user,
        session_id=session,
        goal=goal,
        phase="staging",
        pending_actions=["run smoke tests", "deploy to production"],
        intermediate_results={"build": {"artifact": "app-1.4.2.tar", "size": 1234}},
        constraints=["no deploys after 17:00"],
        writes=1,
        written_ids=[7],
        tool_history=[
            ToolRecord(name="deploy_to_staging", arguments={"v": "1.4.2"}, ok=True, decision="allow")
        ],
        conversation=[ConversationLine(role="user", content="ship 1.4.2")],
    )
    state.complete_step("deploy to staging")
    state.decide("ship 1.4.2, not 1.5.0", "1.5.0 has a failing migration")
    return state


def test_backend_follows_the_setting(store: WorkingStore, settings: Settings) -> None:
    expected = "RedisWorkingStore" if settings.working_url else "DiskcacheWorkingStore"
    assert type(store).__name__ == expected
    assert settings.sources["working_url"] in ("default", "env FRAMEWORK_WORKING_URL")


def test_state_round_trips_every_field(store: WorkingStore) -> None:
    saved = full_state("ada", "s1", "ship 1.4.2")
    store.save(saved)
    loaded = store.load("ada", "s1")
    assert loaded == saved and loaded.version == saved.version == 1
    assert loaded.decisions[0].rationale == "1.5.0 has a failing migration"
    assert loaded.completed_steps == ["deploy to staging"]
    assert loaded.intermediate_results["build"]["size"] == 1234
    assert loaded.succeeded("deploy_to_staging") and not loaded.succeeded("run_smoke_tests")


def test_unknown_session_starts_empty(store: WorkingStore) -> None:
    fresh = store.load("ada", "new")
    assert (fresh.user_id, fresh.session_id, fresh.goal, fresh.version) == ("ada", "new", None, 0)
    assert fresh.tool_history == fresh.decisions == fresh.pending_actions == []


def test_saving_extends_the_ttl_and_idle_state_expires(settings: Settings) -> None:
    store = open_working_store(dataclasses.replace(settings, working_ttl_s=1))
    state = full_state("ada", "s1", "short-lived")
    store.save(state)
    time.sleep(0.7)
    state.phase = "production"
    store.save(state)  # activity: another second from now
    time.sleep(0.7)
    assert store.load("ada", "s1").phase == "production"  # 1.4 s after the first save
    time.sleep(0.6)
    assert store.load("ada", "s1").goal is None
    store.close()


def test_sessions_of_one_user_never_overwrite_each_other(store: WorkingStore) -> None:
    store.save(full_state("ada", "s1", "first"))
    store.save(full_state("ada", "s2", "second"))
    store.save(full_state(None, "s1", "anonymous"))
    assert [store.load(u, s).goal for u, s in [("ada", "s1"), ("ada", "s2"), (None, "s1")]] == [
        "first",
        "second",
        "anonymous",
    ]
    store.clear("ada", "s1")
    assert (store.load("ada", "s1").goal, store.load("ada", "s2").goal) == (None, "second")


def test_a_users_sessions_are_listed_newest_first_and_only_theirs(store: WorkingStore) -> None:
    store.save(full_state("ada", "older:one", "first"))
    store.save(full_state("ada", "newer", "second"))
    store.save(full_state("ada:x", "s9", "another user whose id starts the same"))
    store.save(full_state(None, "s1", "anonymous"))
    assert [(s.session_id, s.goal) for s in store.sessions("ada")] == [
        ("newer", "second"),
        ("older:one", "first"),
    ]
    assert store.sessions("nobody") == []


def test_complete_returns_the_final_state_and_drops_it(store: WorkingStore) -> None:
    store.save(full_state("ada", "s1", "ship it"))
    done = store.complete("ada", "s1")
    assert done is not None and done.goal == "ship it" and done.version == 1
    assert store.load("ada", "s1").goal is None
    assert store.complete("ada", "s1") is None


def test_delete_user_removes_only_that_users_sessions(store: WorkingStore) -> None:
    for session in ("s1", "s2"):
        store.save(full_state("ada", session, "ada's"))
    store.save(full_state("adam", "s1", "adam's"))  # a user whose id starts with "ada"
    store.save(full_state("team:ada", "s1", "colon"))
    store.save(full_state("a*", "s1", "glob"))
    assert store.delete_user("ada") == 2
    assert store.load("ada", "s1").goal is None and store.load("ada", "s2").goal is None
    assert store.load("adam", "s1").goal == "adam's"
    assert store.load("team", "ada:s1").goal is None and store.delete_user("team") == 0
    assert store.delete_user("a*") == 1 and store.load("team:ada", "s1").goal == "colon"


def test_saving_again_without_reloading_is_not_a_conflict(store: WorkingStore) -> None:
    state = full_state("ada", "s1", "g")
    store.save(state)
    state.complete_step("run smoke tests")
    store.save(state)
    loaded = store.load("ada", "s1")
    assert loaded.version == state.version == 2
    assert loaded.completed_steps == ["deploy to staging", "run smoke tests"]
    assert loaded.pending_actions == ["deploy to production"]


def test_a_concurrent_save_is_merged_not_lost(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    one, two = open_working_store(settings), open_working_store(settings)  # two clients
    one.save(full_state("ada", "s1", "ship 1.4.2"))
    a, b = one.load("ada", "s1"), two.load("ada", "s1")

    a.complete_step("run smoke tests")
    a.intermediate_results["smoke"] = "passed"
    a.writes += 1
    a.phase = "production"
    one.save(a)

    b.decide("notify the on-call", "a deploy is running")
    b.intermediate_results["build"] = {"artifact": "app-1.4.3.tar"}
    b.constraints.append("no deploys after 17:00")  # already there: kept once
    b.writes += 2
    b.phase = "rollback"
    logger = logging.getLogger("framework.memory.working.merge")
    logger.addHandler(caplog.handler)  # the "framework" logger may not propagate (framework.log)
    try:
        two.save(b)
    finally:
        logger.removeHandler(caplog.handler)

    final = one.load("ada", "s1")
    assert final == b and final.version == 3  # the loser's object now holds the merged state
    assert final.completed_steps == ["deploy to staging", "run smoke tests"]
    assert final.pending_actions == ["deploy to production"]  # a's removal is honoured
    assert [d.decision for d in final.decisions] == ["ship 1.4.2, not 1.5.0", "notify the on-call"]
    assert final.intermediate_results == {"build": {"artifact": "app-1.4.3.tar"}, "smoke": "passed"}
    assert final.constraints == ["no deploys after 17:00"]
    assert final.writes == 1 + 1 + 2
    assert final.phase == "rollback" and "phase" in caplog.text  # both changed it: said, not silent
    one.close()
    two.close()


def test_a_state_recreated_meanwhile_is_merged_not_overwritten(store: WorkingStore) -> None:
    store.save(full_state("ada", "s1", "old task"))
    stale = store.load("ada", "s1")  # version 1
    store.complete("ada", "s1")
    fresh = store.load("ada", "s1")
    fresh.goal, fresh.pending_actions = "new task", ["plan"]
    store.save(fresh)  # version 1 again, other content
    stale.completed_steps.append("late step")
    store.save(stale)
    final = store.load("ada", "s1")
    assert (final.goal, final.pending_actions, final.version) == ("new task", ["plan"], 2)
    assert final.completed_steps == ["late step"]


def run_python(code: str, settings: Settings) -> str:
    env = {**os.environ, "FRAMEWORK_HOME": str(settings.home)}
    env.pop("FRAMEWORK_WORKING_URL", None)
    if settings.working_url:
        env["FRAMEWORK_WORKING_URL"] = settings.working_url
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SETUP = """
    from framework.config import load_settings
    from framework.memory.working import open_working_store
    store = open_working_store(load_settings())
"""


def test_a_task_resumes_in_a_new_process(store: WorkingStore, settings: Settings) -> None:
    run_python(
        SETUP
        + """
    state = store.load("ada", "deploy-42")
    state.goal, state.phase = "ship 1.4.2", "staging"
    state.pending_actions = ["deploy to staging", "run smoke tests"]
    state.complete_step("deploy to staging")
    state.decide("staging first", "policy staging_first_deployment")
    store.save(state)
    """,
        settings,
    )

    out = run_python(
        SETUP
        + """
    state = store.load("ada", "deploy-42")
    print(state.goal, "|", state.phase, "|", state.completed_steps, "|", state.pending_actions)
    state.complete_step("run smoke tests")
    state.phase = "production"
    store.save(state)
    """,
        settings,
    )
    assert out.strip() == "ship 1.4.2 | staging | ['deploy to staging'] | ['run smoke tests']"

    resumed = store.load("ada", "deploy-42")
    assert resumed.phase == "production" and resumed.version == 2
    assert resumed.completed_steps == ["deploy to staging", "run smoke tests"]
    assert resumed.decisions[0].rationale == "policy staging_first_deployment"


def test_processes_saving_one_session_at_once_lose_no_update(
    store: WorkingStore, settings: Settings, tmp_path: Path
) -> None:
    # Four processes start at the same instant and each spends a moment between load and save,
    # so their saves interleave: most of them find the stored version moved and must merge.
    worker = (
        SETUP
        + """
    import sys, time
    from pathlib import Path
    import framework.memory.working.merge as working
    merges = []
    merge = working._merge
    working._merge = lambda ours, theirs: merges.append(1) or merge(ours, theirs)
    me, barrier = sys.argv[1], Path(sys.argv[2])
    (barrier / me).touch()
    while len(list(barrier.iterdir())) < 4:  # start together
        time.sleep(0.005)
    for n in range(15):
        state = store.load("ada", "shared")
        state.completed_steps.append(f"{me}-{n}")
        state.intermediate_results[me] = n
        state.writes += 1
        time.sleep(0.003)
        store.save(state)
    print(len(merges))
    """
    )
    env = {**os.environ, "FRAMEWORK_HOME": str(settings.home)}
    env.pop("FRAMEWORK_WORKING_URL", None)
    if settings.working_url:
        env["FRAMEWORK_WORKING_URL"] = settings.working_url
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(worker), f"p{i}", str(barrier)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    merged = 0
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        merged += int(out)

    final = store.load("ada", "shared")
    assert sorted(final.completed_steps) == sorted(f"p{i}-{n}" for i in range(4) for n in range(15))
    assert final.intermediate_results == {f"p{i}": 14 for i in range(4)}
    assert final.writes == 60 and final.version == 60
    assert merged > 0  # the saves did collide: the merge, not luck, kept every update


def test_an_unknown_url_scheme_is_a_configuration_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_WORKING_URL", "memcached://u:secret@127.0.0.1:11211")
    with pytest.raises(ConfigurationError) as err:
        open_working_store(load_settings())
    assert "env FRAMEWORK_WORKING_URL" in str(err.value) and "redis://" in str(err.value)
    assert "secret" not in str(err.value)


def test_an_unreachable_redis_says_what_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_WORKING_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreError) as err:
        open_working_store(load_settings())
    message = str(err.value)
    assert "cannot reach Redis" in message and "FRAMEWORK_WORKING_URL" in message
    assert "hunter2" not in message


def test_default_is_diskcache_in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAMEWORK_WORKING_URL", raising=False)
    store = open_working_store(load_settings())
    assert isinstance(store, DiskcacheWorkingStore) and Path(store.cache.directory) == home / "working"
    store.close()
