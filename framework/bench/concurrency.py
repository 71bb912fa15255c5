"""Many processes, one store: real turns from N processes on one SQLite store and one diskcache
working memory, and whether any turn failed or any write was lost.

Each worker is its own Python process (`python -m framework.bench.concurrency worker ...`) with
its own Agent, a ScriptedModel and the `hash` embedder, in one temporary FRAMEWORK_HOME. Users are
shared between processes. Half the turns state a fact (an extraction and a memory write, in a
session of that process); the others ask about an earlier fact and call a tool, so the recalled
memories are adjusted on success (a read-then-write), in a session every process saves to for
half a second (its working state merged). Every turn recalls (audited in batches). At the end
every memory a turn reported writing must be in the store, as written, every recall must have its
audit row, and every question must be in its shared session's conversation.

Bounded: workers start no turn after `seconds`; one still running is killed at
seconds + WRITE_DEADLINE_S + 60 s and reported in `killed`.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from framework.memory.longterm.backends import WRITE_DEADLINE_S

_READY_TIMEOUT_S = 180.0  # imports and agent start-up of every worker, on a loaded machine
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_BUSY = "memory store is busy"  # in StoreBusy's message (backends/sqlite.py busy_advice)
_COMMAND = [sys.executable, "-m", "framework.bench.concurrency"]


def measure(processes: int = 8, seconds: float = 60.0, users: int = 12, seed: int = 0) -> dict[str, Any]:
    """Run `processes` worker processes for `seconds` on one new store; their figures combined."""
    with tempfile.TemporaryDirectory(prefix="framework-bench-concurrency-") as tmp:
        run, home = Path(tmp), Path(tmp) / "home"
        from framework.memory.manager import MemoryManager

        MemoryManager(_settings(home)).close()  # the store and working memory, before the workers
        procs = [_spawn(run, w, users, seed) for w in range(processes)]
        killed = 0
        try:
            _wait_for(lambda: all((run / f"ready-{w}").exists() or p.poll() is not None for w, p in procs))
            start = time.time()
            (run / "go.tmp").write_text(json.dumps({"until": start + seconds}))
            (run / "go.tmp").rename(run / "go")
            limit = time.monotonic() + seconds + WRITE_DEADLINE_S + 60
            for _w, proc in procs:
                try:
                    proc.wait(timeout=max(0.1, limit - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    killed += 1
            elapsed = time.time() - start
        finally:
            for _w, proc in procs:  # only on an error above: stop every worker this call started
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        results = [_result(run, w, proc) for w, proc in procs]
        return _report(home, results, processes, seconds, users, elapsed, killed)


def _agent(home: Path, model: Any = None) -> Any:
    from framework import Agent, ScriptedModel, tool

    class ConcurrencyBench(Agent):
        name = "concurrency-bench"

        @tool
        def lookup(self, topic: str) -> str:
            """Look a topic up.

            Args:
                topic: what to look up
            """
            return f"{topic}: found"

    return ConcurrencyBench(model=model or ScriptedModel(), settings=_settings(home))


def _settings(home: Path) -> Any:
    """SQLite and diskcache in `home`, whatever the environment names; the `hash` embedder."""
    from framework.config import load_settings

    settings = load_settings(home, embedder="hash", database_url=f"sqlite:///{home / 'memory.db'}")
    return dataclasses.replace(settings, working_url=None)


def _spawn(run: Path, worker: int, users: int, seed: int) -> tuple[int, subprocess.Popen[bytes]]:
    args = [*_COMMAND, "worker", str(run), str(worker)]
    with open(run / f"stderr-{worker}", "wb") as err:
        proc = subprocess.Popen([*args, str(users), str(seed)], stdout=err, stderr=err)
    return worker, proc


def _wait_for(done: Callable[[], bool], timeout_s: float = _READY_TIMEOUT_S) -> None:
    limit = time.monotonic() + timeout_s
    while not done() and time.monotonic() < limit:
        time.sleep(0.05)


def _words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(n))


class _Probe:
    """A worker's timings (ms) per operation, and the StoreBusy errors seen, by operation."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {"turn": [], "recall": [], "write": [], "learn": [], "save": []}
        self.busy = Counter[str]()

    def wire(self, agent: Any) -> Any:
        """Time the agent's memory writes, confidence adjustments and working-state saves."""
        memory = agent.memory
        memory.long_term.add = self._timed("write", memory.long_term.add)
        memory.long_term.adjust = self._timed("learn", memory.long_term.adjust)
        memory.working.save = self._timed("save", memory.working.save)
        return agent

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        from framework.errors import StoreBusy

        def run_timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            except StoreBusy:
                self.busy[name] += 1
                raise
            finally:
                self.times[name].append((time.perf_counter() - started) * 1000)

        return run_timed


def _script(rng: random.Random, known: list[tuple[int, str]]) -> tuple[str, bool, list[Any]]:
    """(what the user says, whether it states a fact, the model's replies to the turn)."""
    from framework.llm.testing import call, say
    from framework.memory.governance import Extraction, MemoryCandidate
    from framework.steps.intent import Intent

    if not known or rng.random() < 0.5:
        fact = f"Note {_words(rng, 8)}"
        intent = Intent(goal="share", memory_query=fact, remember=True)
        extraction = Extraction(memories=[MemoryCandidate(content=fact, memory_type="fact", confidence=0.9)])
        return f"Please remember: {fact}", True, [intent, say("Noted."), extraction]
    topic = rng.choice(known)[1]
    intent = Intent(goal="ask", task_type="question", memory_query=topic)
    return f"What do I know about {topic}?", False, [intent, call("lookup", topic=topic[:20]), say("Here.")]


def _worker(run: Path, worker: int, users: int, seed: int) -> None:
    """One process's turns until the deadline in the go file; its figures to result-<worker>.json."""
    from framework import ScriptedModel
    from framework.errors import StoreBusy

    rng, probe, home = random.Random(seed * 1000 + worker), _Probe(), run / "home"
    model = ScriptedModel()
    agent = probe.wire(_agent(home, model))
    written: dict[str, list[tuple[int, str]]] = {}
    shared: list[tuple[str, str, str]] = []  # (user, session, line) of the questions
    failed, errors, warned, misaligned, recalls, turns = Counter[str](), 0, 0, 0, 0, 0
    (run / f"ready-{worker}").touch()
    _wait_for(lambda: (run / "go").exists())
    until = json.loads((run / "go").read_text())["until"] if (run / "go").exists() else 0.0
    while time.time() < until:
        user = f"user-{(worker * 7 + turns) % users:02d}"
        line, states, replies = _script(rng, written.get(user, []))
        # a fact in a session of this process; a question in one every process saves to now
        name = f"w{worker}-{user}-{turns // 16}" if states else f"shared-{user}-{int(time.time() * 2)}"
        model.extend(replies)
        started = time.perf_counter()
        try:
            turn = agent.session(user, name).send(line)
        except Exception as exc:  # the figure this benchmark exists for: any exception is a failure
            failed[type(exc).__name__] += 1
            probe.busy["turn"] += isinstance(exc, StoreBusy)
        else:
            probe.times["turn"].append((time.perf_counter() - started) * 1000)
            probe.times["recall"].append(turn.timings_ms.get("retrieve", 0.0))
            recalls += turn.recollection is not None
            errors += bool(turn.error)
            warned += bool(turn.warnings)
            probe.busy["turn error"] += _BUSY in (turn.error or "")
            written.setdefault(user, []).extend(
                (op.memory_id, op.content) for op in turn.ops("write") if op.memory_id is not None
            )
            if not states:
                shared.append((user, name, line))
        if model.remaining:  # a reply the turn did not ask for: the next turn starts clean
            misaligned += 1
            agent.close()
            model = ScriptedModel()
            agent = probe.wire(_agent(home, model))
        turns += 1
    agent.close()  # writes the recalls' audit rows still pending
    result = {
        "turns": turns,
        "failed": dict(failed),
        "turn_errors": errors,
        "turn_warnings": warned,
        "misaligned": misaligned,
        "recalls": recalls,
        "store_busy": dict(probe.busy),
        "written": written,
        "shared": shared,
        "times": probe.times,
    }
    (run / f"result-{worker}.json").write_text(json.dumps(result))


def _result(run: Path, worker: int, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    path = run / f"result-{worker}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    tail = (run / f"stderr-{worker}").read_text(errors="replace")[-2000:]
    return {"crashed": f"worker {worker} exited {proc.returncode} without a result: {tail}"}


def _report(
    home: Path,
    results: list[dict[str, Any]],
    processes: int,
    seconds: float,
    users: int,
    elapsed: float,
    killed: int,
) -> dict[str, Any]:
    """Every worker's figures combined, and the stores checked against what the turns reported."""
    done = [r for r in results if "crashed" not in r]
    failed = sum((Counter(r["failed"]) for r in done), Counter[str]())
    busy = sum((Counter(r["store_busy"]) for r in done), Counter[str]())
    turns = sum(r["turns"] for r in done)
    return {
        "processes": processes,
        "seconds": seconds,
        "users": users,
        "elapsed_s": round(elapsed, 1),
        "turns": turns,
        "turns_per_s": round(turns / seconds, 1),  # turns start until `seconds` have passed
        "write_deadline_s": WRITE_DEADLINE_S,
        "failed_turns": sum(failed.values()),
        "failures": dict(failed),
        "turn_errors": sum(r["turn_errors"] for r in done),
        "turn_warnings": sum(r["turn_warnings"] for r in done),
        "misaligned_scripts": sum(r["misaligned"] for r in done),
        **_check_stores(home, done),
        "store_busy": sum(busy.values()),
        "store_busy_by_operation": dict(busy),
        "killed": killed,
        "crashed": [r["crashed"] for r in results if "crashed" in r],
        "operations": _percentiles(done),
    }


def _check_stores(home: Path, done: list[dict[str, Any]]) -> dict[str, Any]:
    """Lost writes: memories a turn reported writing that are not in the store as written (per
    user). Lost recall audits: recalls without their audit row. Lost state lines: questions
    missing from the conversation of the session every process saved (a session whose lines
    exceed what working memory keeps is not checked)."""
    from framework.memory.manager import MemoryManager
    from framework.memory.working import MAX_CONVERSATION_LINES

    manager = MemoryManager(_settings(home))
    try:
        with manager.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT user_id, id, content FROM memory")
            stored = {(u, i): c for u, i, c in rows}
            audited = conn.exec_driver_sql("SELECT count(*) FROM audit WHERE operation = 'read'").scalar_one()
            intact = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        asked: dict[tuple[str, str], Counter[str]] = {}
        for r in done:
            for user, session, line in r["shared"]:
                asked.setdefault((user, session), Counter())[line] += 1
        lost_lines = unchecked = 0
        for (user, session), lines in asked.items():
            if 2 * lines.total() > MAX_CONVERSATION_LINES - 2:  # trimmed, or folded into a summary
                unchecked += 1
                continue
            state = manager.working.load(user, session)
            kept = Counter(c.content for c in state.conversation if c.role == "user")
            lost_lines += (lines - kept).total()
    finally:
        manager.close()
    reported = [(u, i, c) for r in done for u, ids in r["written"].items() for i, c in ids]
    recalls = sum(r["recalls"] for r in done)
    return {
        "writes": len(reported),
        "lost_writes": sum(stored.get((u, i)) != c for u, i, c in reported),
        "recalls": recalls,
        "lost_recall_audits": max(0, recalls - audited),
        "shared_sessions": len(asked),
        "lost_state_lines": lost_lines,
        "sessions_unchecked": unchecked,
        "store_intact": intact,
    }


def _percentiles(done: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50, p95 and max (ms) per operation, over every worker's samples."""
    ops = {}
    for name in ("turn", "recall", "write", "learn", "save"):
        samples = sorted(t for r in done for t in r["times"][name])
        if samples:
            ops[name] = {
                "n": len(samples),
                "p50_ms": round(statistics.median(samples), 2),
                "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
                "max_ms": round(samples[-1], 2),
            }
    return ops


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    _worker(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
