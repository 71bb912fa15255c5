"""The runtime's own cost per turn: every step of the loop with a ScriptedModel (no LLM latency)
and the query embedding subtracted, with `memories` memories already stored for the user."""

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


def measure(memories: int = 1000, turns: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="framework-bench-") as tmp:
        # A window the whole run fits in: no summary call (the script has none to give).
        settings = dataclasses.replace(load_settings(Path(tmp), embedder="hash"), context_tokens=1_000_000)
        model = ScriptedModel()
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
        steps: dict[str, list[float]] = {}
        for i in range(turns + 20):
            if i % 25 == 0:  # a new session before 30 turns fill the conversation (a summary call)
                session = agent.session("bench-user", f"bench-{i // 25}")
            model.extend(_turn_script(i))
            started = time.perf_counter()
            turn = session.send(f"Tell me about {_TOPICS[i % len(_TOPICS)]} please, turn {i}")
            elapsed = (time.perf_counter() - started) * 1000
            if turn.error:  # a turn that failed measures nothing: the bench's script is wrong
                raise RuntimeError(f"bench turn {i} failed: {turn.error}")
            embed = turn.recollection.embed_ms if turn.recollection else 0.0
            if i >= 20:  # the first turns warm caches (tokenizer, templates, SQLite pages)
                overheads.append(elapsed - embed)
                for step, ms in turn.timings_ms.items():
                    steps.setdefault(step, []).append(ms)
        model.assert_consumed()
        agent.close()
    overheads.sort()
    return {
        "memories": memories,
        "turns": turns,
        "turn_overhead_p50_ms": round(statistics.median(overheads), 3),
        "turn_overhead_p95_ms": round(overheads[int(0.95 * (len(overheads) - 1))], 3),
        "step_p50_ms": {k: round(statistics.median(v), 3) for k, v in steps.items()},
        "help_s": round(_help_seconds(), 3),
    }


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
