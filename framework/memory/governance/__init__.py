"""Memory governance: what may enter long-term memory and what a candidate does to it.

`write_policy` (confidence, secrets and PII, transient and speculative content, caps),
`candidates` (what the extraction call returns), `extraction` (the memory operations' LLM calls),
`curation` (dedup, refine, contradict, then write), `approvals` (writes parked for a human, and
each user's consent).
"""

from framework.memory.governance.approvals import Consent, WriteQueue
from framework.memory.governance.candidates import (
    Comparison,
    Extraction,
    ForgetRequest,
    MemoryCandidate,
    PairVerdict,
)
from framework.memory.governance.curation import Curator, SimilarPair, WriteDecision
from framework.memory.governance.write_policy import WritePolicy

__all__ = [
    "Comparison",
    "Consent",
    "Curator",
    "Extraction",
    "ForgetRequest",
    "MemoryCandidate",
    "PairVerdict",
    "SimilarPair",
    "WriteDecision",
    "WritePolicy",
    "WriteQueue",
]
