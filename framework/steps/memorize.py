"""Step 6's rule: when a turn has something to keep. At most one extraction call per turn, and
only when the user stated, corrected or retracted something, or the outcome failed; the work
itself is one call into memory (`MemoryManager.memorize`)."""

from __future__ import annotations

from framework.outcome import Outcome
from framework.steps.intent import Intent


def worth_extracting(intent: Intent, outcome: Outcome) -> bool:
    if intent.trivial:
        return False
    return intent.remember or intent.forget or intent.correction or outcome.status in ("failure", "partial")
