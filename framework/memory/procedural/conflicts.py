"""Contradictions between procedures: policies that can never be satisfied together, and skills
that use a tool a policy forbids on every call. Each message names the files involved."""

from __future__ import annotations

import fnmatch

from framework.memory.procedural.schema import Policy, Skill


def _overlap(a: Policy, b: Policy) -> bool:
    return any(
        fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x)
        for x in a.applies_to.tools
        for y in b.applies_to.tools
    )


def policy_conflicts(policies: list[Policy]) -> list[str]:
    """Contradictions between active policies, each naming the files involved."""
    found = []
    for a in policies:
        for r in a.requires:  # a hard, unconditional policy that needs what it governs
            if a.governs(r.tool) and a.enforcement == "hard" and a.unconditional:
                found.append(
                    f"{a.source}: policy {a.label} requires {r.tool} to have succeeded before any call "
                    f"of {r.tool}: it can never be satisfied"
                )
        if not a.blocks_every_call:
            continue
        for b in policies:
            if b is a:
                continue
            for r in b.requires:
                if a.governs(r.tool):
                    found.append(
                        f"{a.source} and {b.source}: policy {a.label} forbids every call of {r.tool}, "
                        f"which policy {b.label} requires to have succeeded first"
                    )
            if b.approval and _overlap(a, b):
                found.append(
                    f"{a.source} and {b.source}: policy {a.label} forbids every call of "
                    f"{', '.join(a.applies_to.tools)}, for which policy {b.label} asks a human's "
                    "approval: the approval can never be given"
                )
    return found


def skill_conflicts(skills: list[Skill], policies: list[Policy]) -> list[str]:
    return [
        f"{s.source} and {p.source}: skill {s.label} uses {tool}, "
        f"which policy {p.label} forbids on every call"
        for s in skills
        for tool in s.tools
        for p in policies
        if p.blocks_every_call and p.governs(tool)
    ]
