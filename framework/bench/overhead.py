"""The runtime's own cost per turn: every step of the loop with a ScriptedModel (no LLM latency)
and the query embedding subtracted, with `memories` memories already stored for the user.

Three figures per turn: until the answer request leaves (what the user waits for before the
first word, less the model), until `send` returns (the answer's side), and the memory work
applied after it in the background (waited for between turns, as a user's next turn does)."""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from framework.agent import Agent
from framework.config import load_settings
from framework.llm.testing import ScriptedModel, call, say
from framework.memory.governance import WritePolicy
from framework.memory.governance.candidates import Extraction, MemoryCandidate
from framework.steps.intent import Intent
from framework.tools import tool

_TOPICS = ["python", "deploy", "coffee", "berlin", "rust", "meeting", "garden", "invoice", "piano", "cycling"]


class _BenchAgent(Agent):
    name = "bench"
    # The script has no comparison replies: a candidate like an earlier turn's is written as new
    # (the comparison call is the governance bench's to count, not the runtime's overhead).
    write_policy = WritePolicy(compare_similarity=1.01)

    @tool
    def lookup(self, topic: str) -> str:
        """Look a topic up.

        Args:
            topic: what to look up
        """
        return f"{topic}: found"


def _turn_script(i: int) -> list[Any]:
    """A third of the turns state something worth keeping (an extraction and a write); half call
    a tool through the gate; all recall over the stored memories."""
    topic = _TOPICS[i % len(_TOPICS)]
    keeps = i % 3 == 0
    script: list[Any] = [
        Intent(goal=f"ask about {topic}", task_type="question", memory_query=topic, remember=keeps)
    ]
    if i % 2:
        script.append(call("lookup", topic=topic))
    script.append(say(f"Here is what I know about {topic}."))
    if keeps:
        script.append(
            Extraction(
                memories=[
                    MemoryCandidate(
                        content=f"The user asked about {topic} on turn {i}",
                        memory_type="fact",
                        confidence=0.9,
                    )
                ]
            )
        )
    return script


class _TimedModel(ScriptedModel):
    """A ScriptedModel that notes when the first answer request of a turn leaves."""

    first_request: float | None = None

    def stream(self, messages: Any, tools: Any = None) -> Any:
        if self.first_request is None:
            self.first_request = time.perf_counter()
        return super().stream(messages, tools)


def measure(memories: int = 1000, turns: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="framework-bench-") as tmp:
        # A window the whole run fits in: no summary call (the script has none to give).
        settings = dataclasses.replace(load_settings(Path(tmp), embedder="hash"), context_tokens=1_000_000)
        settings = dataclasses.replace(settings, memory_work="background")
        model = _TimedModel()
        agent = _BenchAgent(model=model, settings=settings)
        for i in range(memories):
            topic = _TOPICS[i % len(_TOPICS)]
            agent.memory.remember(
                "bench-user",
                f"Memory {i}: the user mentioned {topic} and item {i * 7}",
                memory_type="fact",
                confidence=0.8,
            )

        overheads: list[float] = []
        before_request: list[float] = []
        memory_work: list[float] = []
        steps: dict[str, list[float]] = {}
        for i in range(turns + 20):
            if i % 25 == 0:  # a new session before 30 turns fill the conversation (a summary call)
                session = agent.session("bench-user", f"bench-{i // 25}")
            model.extend(_turn_script(i))
            model.first_request = None
            started = time.perf_counter()
            turn = session.send(f"Tell me about {_TOPICS[i % len(_TOPICS)]} please, turn {i}")
            answered = time.perf_counter()
            session.flush()  # the memory work, applied after the answer (the next turn waits for it)
            applied = time.perf_counter()
            if turn.error:  # a turn that failed measures nothing: the bench's script is wrong
                raise RuntimeError(f"bench turn {i} failed: {turn.error}")
            embed = turn.recollection.embed_ms if turn.recollection else 0.0
            if i >= 20:  # the first turns warm caches (tokenizer, templates, SQLite pages)
                overheads.append((answered - started) * 1000 - embed)
                before_request.append(((model.first_request or answered) - started) * 1000 - embed)
                memory_work.append((applied - answered) * 1000)
                for step, ms in turn.timings_ms.items():
                    steps.setdefault(step, []).append(ms)
        model.assert_consumed()
        agent.close()
    return {
        "memories": memories,
        "turns": turns,
        "before_request_p50_ms": round(statistics.median(before_request), 3),
        "before_request_p95_ms": round(_p95(before_request), 3),
        "turn_overhead_p50_ms": round(statistics.median(overheads), 3),
        "turn_overhead_p95_ms": round(_p95(overheads), 3),
        "memory_work_p50_ms": round(statistics.median(memory_work), 3),
        "memory_work_p95_ms": round(_p95(memory_work), 3),
        "step_p50_ms": {k: round(statistics.median(v), 3) for k, v in steps.items()},
        "help_s": round(_help_seconds(), 3),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def _help_seconds(runs: int = 5) -> float:
    # The installed console script, as a user runs it; `python -m framework` where it is missing.
    script = shutil.which("framework")
    command = [script, "--help"] if script else [sys.executable, "-m", "framework", "--help"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
