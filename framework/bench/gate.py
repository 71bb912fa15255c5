"""How the command classifier does on the public gate corpus, and what it costs on big arguments.

`measure()` classifies every corpus item (framework/gate/corpus.yaml): destructive items blocked
(flagged at all) and classified exactly (as the kind they name), benign items allowed, and any
exception. Then it times classify_shell on 1 MB arguments of a few shapes (random words, one huge
quoted string, many `;`-separated commands, a here-document) and on the same shapes cut just
under the size cap (shell.MAX_CHARS), where the text is really parsed: p95 over `runs` runs.
"""

from __future__ import annotations

import random
import time
from typing import Any

from framework.gate import shell
from framework.gate.commands import classify_shell
from framework.gate.corpus import run_corpus

MB = 1 << 20
_WORDS = ["ls", "-la", "src", "build", "echo", "grep", "-r", "TODO", "cat", "notes.txt", "git", "status", "x"]


def _shapes(size: int, rng: random.Random) -> dict[str, str]:
    words = " ".join(rng.choice(_WORDS) for _ in range(size // 3))[:size]
    quoted = "echo '" + "a" * (size - 8) + "'"
    commands = "; ".join("echo hi" for _ in range(size // 9 + 1))[:size]
    heredoc = "cat > notes.txt <<'EOF'\n" + ("some line of text\n" * (size // 18))[: size - 30] + "EOF\n"
    return {
        "random words": words,
        "one quoted string": quoted,
        "many ;-separated": commands,
        "here-doc": heredoc,
    }


def _p95_ms(text: str, runs: int) -> tuple[float, list[str]]:
    times, kinds = [], []
    for _ in range(runs):
        start = time.perf_counter()
        report = classify_shell(text)
        times.append((time.perf_counter() - start) * 1000)
        kinds = sorted(report.kinds)
    times.sort()
    return round(times[min(len(times) - 1, int(0.95 * len(times)))], 3), kinds


def measure(runs: int = 20, seed: int = 7) -> dict[str, Any]:
    result = run_corpus()
    per_kind = {
        kind: {"exact": exact, "blocked": blocked, "total": total}
        for kind, (exact, blocked, total) in sorted(result.per_kind().items())
    }
    errors = [f"{o.item.text[:60]!r}: {o.error}" for o in result.destructive + result.benign if o.error]
    rng = random.Random(seed)
    timing: dict[str, dict[str, Any]] = {}
    for label, size in (("1 MB", MB), ("under the cap", shell.MAX_CHARS - 64)):
        for shape, text in _shapes(size, rng).items():
            p95, kinds = _p95_ms(text, runs if size == MB else max(3, runs // 4))
            timing.setdefault(label, {})[shape] = {"chars": len(text), "p95_ms": p95, "kinds": kinds}
    return {
        "destructive": {
            "total": len(result.destructive),
            "blocked": sum(o.flagged for o in result.destructive),
            "exact": sum(o.exact for o in result.destructive),
            "per_kind": per_kind,
            "missed": [o.item.text for o in result.destructive if not o.flagged],
        },
        "benign": {
            "total": len(result.benign),
            "allowed": sum(not o.flagged and o.error is None for o in result.benign),
            "blocked": [o.item.text for o in result.benign if o.flagged],
        },
        "errors": errors,
        "timing": timing,
        "p95_ms_1mb": max(t["p95_ms"] for t in timing["1 MB"].values()),
        "limits": {"max_chars": shell.MAX_CHARS, "max_words": shell.MAX_WORDS, "max_depth": shell.MAX_DEPTH},
    }


def lines(result: dict[str, Any]) -> list[str]:
    """The figures as text, for `framework bench gate`."""
    d, b = result["destructive"], result["benign"]
    out = [
        f"destructive blocked {d['blocked']}/{d['total']} (exact kind {d['exact']}/{d['total']}); "
        f"benign allowed {b['allowed']}/{b['total']}; errors {len(result['errors'])}",
    ]
    for kind, f in d["per_kind"].items():
        out.append(f"  {kind:<26} {f['exact']:>4}/{f['total']:<4} exact, {f['blocked']:>4} blocked")
    for label, shapes in result["timing"].items():
        out.append(f"classify_shell p95, {label}:")
        for shape, t in shapes.items():
            out.append(
                f"  {shape:<20} {t['chars']:>8} chars {t['p95_ms']:>9.3f} ms  {', '.join(t['kinds']) or '-'}"
            )
    out += [f"  missed: {t!r}" for t in d["missed"]] + [f"  blocked benign: {t!r}" for t in b["blocked"]]
    return out + [f"  error: {e}" for e in result["errors"]]
