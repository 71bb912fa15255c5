"""The write policy: what may enter long-term memory. Every rejection says why."""

from __future__ import annotations

import re
from dataclasses import dataclass

from framework.sensitive import find_sensitive

_TRANSIENT = re.compile(
    r"\b(just for now|for now|only for now|this session only|for this session|for this conversation|"
    r"temporar(y|ily)|for the moment|just this once|right now only)\b",
    re.IGNORECASE,
)
_SPECULATIVE = re.compile(
    r"\b(might|maybe|perhaps|possibly|thinking about|considering|not sure|wondering whether|"
    r"wondering if|could be)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WritePolicy:
    min_confidence: float = 0.7
    max_writes_per_session: int = 10
    block_emails: bool = False
    block_phones: bool = False
    # Health, religion, sexual orientation, political opinion and the other special categories of
    # GDPR art. 9: blocked unless an agent whose purpose needs them allows them.
    allow_special_categories: bool = False
    # A candidate this similar (cosine) to a stored memory of the same type reinforces it, no call
    # (high on purpose: "a senior engineer" vs "an engineer" is a refinement, not a repeat).
    duplicate_similarity: float = 0.97
    # Stored memories at least this similar, not shown to the extraction call, are compared with
    # the candidate in the turn's one comparison call; at most this many candidates are compared.
    compare_similarity: float = 0.6
    max_compared_candidates: int = 5
    # Writes wait in a queue for a human (framework memory pending / approve / reject).
    require_approval: bool = False

    @property
    def sensitive_flags(self) -> dict[str, bool]:
        """What counts as sensitive for this policy (framework.sensitive's category flags)."""
        return {
            "emails": self.block_emails,
            "phones": self.block_phones,
            "special": not self.allow_special_categories,
        }

    @property
    def blocks_any_sensitive(self) -> bool:
        return True  # secrets and personal data are never written; the flags only add categories

    def rejection(
        self, content: str, confidence: float, *, anonymous: bool, writes_so_far: int
    ) -> str | None:
        """None if the candidate may be written, else the reason it may not."""
        if anonymous:
            return "anonymous session: nothing is written to long-term memory"
        findings = find_sensitive(content, **self.sensitive_flags)
        if findings:
            return "sensitive: " + ", ".join(sorted({f.kind for f in findings}))
        if confidence < self.min_confidence:
            return f"low confidence {confidence:.2f} < {self.min_confidence:.2f}"
        if _TRANSIENT.search(content):
            return "transient: meant for now, not for later"
        if _SPECULATIVE.search(content):
            return "speculative: not a settled fact or preference"
        if writes_so_far >= self.max_writes_per_session:
            return f"session cap: {self.max_writes_per_session} writes per session"
        return None
