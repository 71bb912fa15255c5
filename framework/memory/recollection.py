"""Step 2's result: everything memory contributes to a turn, and why each item was chosen."""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.llm.messages import Usage
from framework.memory.longterm import MemoryEntry
from framework.memory.longterm.search import RankedMemory
from framework.memory.procedural import Policy, Skill
from framework.memory.rewrite import Rewrite


@dataclass
class Recollection:
    """Step 2's result: everything memory contributes to this turn, and why."""

    preferences: list[MemoryEntry]  # structured: all active, complete
    constraints: list[MemoryEntry]  # structured: all active, complete
    relevant: list[RankedMemory]  # hybrid search over facts and outcomes, ranked, explained
    skills: list[Skill]
    policies: list[Policy]
    dropped: dict[int, str] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    embed_ms: float = 0.0
    rewrite: Rewrite | None = None  # the query rewrite's hints, when the agent asks for one

    @property
    def usage(self) -> Usage:
        """The LLM calls recall made (the query rewrite's, if any)."""
        return self.rewrite.usage if self.rewrite is not None else Usage()

    def shown(self) -> list[MemoryEntry]:
        """Every memory this recollection puts in front of the model."""
        return self.preferences + self.constraints + [r.memory for r in self.relevant]

    def memory_ids(self) -> list[int]:
        ids = [m.id for m in self.preferences + self.constraints] + [r.memory.id for r in self.relevant]
        return [i for i in ids if i is not None]

    def explain(self) -> list[str]:
        """One line per memory used, saying why it was chosen; then what was dropped."""
        lines = [
            f"#{m.id} {m.memory_type} (all active {m.memory_type}s are always included): {m.content}"
            for m in self.constraints + self.preferences
        ]
        for r in self.relevant:
            signals = ", ".join(f"{k}={v:.2f}" for k, v in r.signals.items())
            lines.append(
                f"#{r.memory.id} {r.memory.memory_type} score={r.score:.2f} via {r.via} "
                f"[{signals}]: {r.memory.content}"
            )
        if self.rewrite is not None and (hints := self.rewrite.explained()):
            lines.append(hints)
        lines += [f"dropped #{mid}: {why}" for mid, why in self.dropped.items()]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines
