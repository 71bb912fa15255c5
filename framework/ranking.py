"""The weights of long-term memory's composite rank: configuration (`recall_weights` in
config.yaml or FRAMEWORK_RECALL_WEIGHTS), validated by framework.config against `WEIGHT_RANGES`,
used by framework.memory.longterm.search. Kept at the ground floor so configuration can check
them without importing the store."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RankWeights:
    """The defaults of the weights `framework bench retrieval --cv` tunes (framework.bench.tuning:
    lexical_share, context, subject, time, min_similarity, focus, common_share, substance) are the values
    most of its leave-one-conversation-out folds chose on the LoCoMo dev split, each fold on three
    conversations: none was fitted on all four at once."""

    relevance: float = 0.6
    confidence: float = 0.2
    recency: float = 0.1
    frequency: float = 0.05
    task: float = 0.05
    # How much a memory states (framework.memory.longterm.relevance.substance: its distinct
    # content words on a log scale, less the share of its sentences that ask): a prior that
    # lifts, of two memories matching a query alike, the one that says more. 0 turns it off.
    substance: float = 0.15
    recency_half_life_days: float = 30.0
    # A vector neighbour less similar than this is not a candidate: nearest is not always near.
    min_similarity: float = 0.25
    # What relevance is made of. The direct match is a convex combination of the normalised
    # lexical and vector scores; `lexical_share` is the lexical part before each query shifts it
    # towards the signal that is surer of its answer (equal by default).
    lexical_share: float = 0.5
    # A memory inherits this share of the direct match of the memory written just before or after
    # it in the same session (half that from two places away): a reply is found through the
    # question it answers. 0 turns it off.
    context: float = 0.5
    # Added when the memory opens with a word the query uses: its speaker ("Ada: ...") or subject
    # ("Python 3.12 is installed"). A name is in so many of a user's memories that BM25 all but
    # ignores it and an embedding mixes it into everything; who said something is what a question
    # naming a person most often asks about. 0 turns it off.
    subject: float = 0.5
    # Added when the query names a period ("on 3 May, 2023", "in June") in which the memory was
    # written (or up to a week before: things are told after they happen), or of which it speaks
    # ("last month", "two years ago", counted from when it was written). 0 turns it off.
    time: float = 1.0
    # The query vector leans this share towards the embedding of the question without the words
    # in at least `common_share` of the user's memories (their names, "user": words that pull a
    # question towards everything the user said; framework.memory.longterm.focus). 0 turns it off.
    focus: float = 0.5
    common_share: float = 0.2


# Weights that are not plain non-negative numbers: (low, high, as said in an error).
WEIGHT_RANGES = {
    "recency_half_life_days": (0.0, math.inf, "a number of days > 0"),
    "lexical_share": (0.0, 1.0, "a share between 0 and 1"),
    "min_similarity": (-1.0, 1.0, "a cosine similarity between -1 and 1"),
    "focus": (0.0, 1.0, "a share between 0 and 1"),
    "common_share": (0.0, 1.0, "a share of memories between 0 and 1"),
}
