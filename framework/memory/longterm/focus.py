"""A question's vector, focused on what sets it apart from everything the user has said.

The words that a large share of a user's memories use (the user's and the speakers' names, "user",
the most frequent function words) are in the questions too ("What did Caroline paint?"), and in an
embedding they pull a question towards all of those memories at once: the nearest memories are
then the ones most like the question in general, not in what it asks. The query vector is a convex
combination (`RankWeights.focus`) of the embeddings of the question as asked and of the question
without those words, both in one call to the embedder. The lexical signal needs no such help:
BM25's inverse document frequency already discounts them.

What is common is counted per user, over the latest SAMPLE active memories: a word in at least
`RankWeights.common_share` of them. A user with fewer than MIN_MEMORIES has none (too few to
tell). Counts are kept per process for RECOUNT_AFTER_S (a user's common words change slowly), and
dropped when the user is erased. A word is common only when many memories share it, so no one
memory's words are kept.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from framework.memory.longterm.backends import execute
from framework.memory.longterm.relevance import terms as search_terms
from framework.ranking import RankWeights

SAMPLE = 1000
MIN_MEMORIES = 50
RECOUNT_AFTER_S = 300.0
USERS_KEPT = 1024

_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")

Embed = Callable[[list[str]], list[list[float]]]


def common_words(contents: Sequence[str], share: float) -> frozenset[str]:
    """The words (lower case) in at least `share` of the texts; none for fewer than MIN_MEMORIES."""
    if len(contents) < MIN_MEMORIES:
        return frozenset()
    counts = Counter(word for text in contents for word in set(_WORD.findall(text.lower())))
    least = share * len(contents)
    return frozenset(word for word, n in counts.items() if n >= least)


def focused(text: str, common: frozenset[str]) -> str | None:
    """The question without the common words; None when it has none of them, or when nothing
    searchable would be left ("What did Caroline say?")."""
    if not common:
        return None
    kept = _WORD.sub(lambda m: "" if m[0].lower() in common else m[0], text)
    kept = _SPACES.sub(" ", kept).strip()
    if kept == _SPACES.sub(" ", text).strip() or not search_terms(kept):
        return None
    return kept


def combine(asked: Sequence[float], focus: Sequence[float], share: float) -> list[float]:
    """(1 - share) * asked + share * focus, of unit length."""
    mixed = [(1.0 - share) * a + share * f for a, f in zip(asked, focus, strict=True)]
    norm = math.sqrt(sum(x * x for x in mixed))
    return [x / norm for x in mixed] if norm else list(asked)


def embedded(texts: list[str], embed: Embed, weights: RankWeights) -> list[float] | None:
    """The query vector of what `QueryFocus.texts` gave (None for nothing: a blank query)."""
    if not texts:
        return None
    vectors = embed(texts)
    return vectors[0] if len(vectors) == 1 else combine(vectors[0], vectors[1], weights.focus)


class QueryFocus:
    """Query vectors for one store: each user's common words counted and kept for a while."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._counted: OrderedDict[str, tuple[float, float, frozenset[str]]] = OrderedDict()
        self._lock = threading.Lock()  # recalls of several threads (the service, memory work)
        self._forgotten = 0  # erasures so far: a count begun before one is not kept

    def texts(self, user_id: str, text: str, weights: RankWeights) -> list[str]:
        """What is embedded for the query `text`: nothing for a blank query, else the question
        as asked, and the question without the user's common words if that differs."""
        if not text.strip():
            return []
        rest = focused(text, self.common(user_id, weights.common_share)) if weights.focus > 0 else None
        return [text] if rest is None else [text, rest]

    def vector(self, user_id: str, text: str, embed: Embed, weights: RankWeights) -> list[float] | None:
        """The query vector for `text` (None for a blank query)."""
        return embedded(self.texts(user_id, text, weights), embed, weights)

    def common(self, user_id: str, share: float) -> frozenset[str]:
        """The words in `share` of the user's latest memories (kept for RECOUNT_AFTER_S)."""
        now = time.monotonic()
        with self._lock:
            erasures = self._forgotten
            kept = self._counted.get(user_id)
            if kept is not None and kept[1] == share and now - kept[0] < RECOUNT_AFTER_S:
                self._counted.move_to_end(user_id)
                return kept[2]
        with self.engine.connect() as conn:
            rows = execute(
                conn,
                "SELECT content FROM memory WHERE user_id = ? AND status = 'active' ORDER BY id DESC LIMIT ?",
                (user_id, SAMPLE),
            ).fetchall()
        words = common_words([r[0] for r in rows], share)
        with self._lock:
            if erasures != self._forgotten:  # a user was erased meanwhile: maybe this one
                return words
            self._counted[user_id] = (now, share, words)
            self._counted.move_to_end(user_id)
            while len(self._counted) > USERS_KEPT:
                self._counted.popitem(last=False)
        return words

    def forget(self, user_id: str) -> None:
        """Drop what was counted for the user (their memories were deleted)."""
        with self._lock:
            self._forgotten += 1
            self._counted.pop(user_id, None)
