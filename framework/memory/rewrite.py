"""Step 2's optional query rewrite: one LLM call before recall that says what the memories
answering the user's message would contain — words the message does not use, and a guessed answer
written like a memory — so that recall can find a memory that shares no words and little meaning
with the question ("Would Caroline pursue writing as a career?" against "Caroline: I've started
a novel"). Off by default: it costs a model call before every answer (`Agent.query_rewrite`).

The rewrite only widens the search of the user's own memories: its keywords join the lexical
search's words (`SearchQuery.expansion`; the store's tokenizer reads them, no query syntax passes),
and its guess is embedded beside the question, the query vector moving GUESS_SHARE of the way
towards it (HyDE: Gao et al., 2022). The model's reply is untrusted output and bounded
(MAX_KEYWORDS words, MAX_GUESS_CHARS); nothing of it is stored. Secrets and personal identifiers in
the message are masked before the call (none is ever stored, so none is worth searching for). When
the call fails, recall searches with the message alone and says so in its warnings: a turn never
fails for want of a rewrite.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from pydantic import BaseModel, Field

from framework.config import Settings
from framework.errors import ConfigurationError, FrameworkError
from framework.llm import configured_model
from framework.llm.base import Model
from framework.llm.messages import Message, Structured, Usage
from framework.llm.requests import AskStructured
from framework.llm.traced import traced
from framework.memory.longterm.focus import combine
from framework.prompts import render
from framework.sensitive import redact
from framework.telemetry import NULL, Span

log = logging.getLogger(__name__)

# A rewrite is a short reply wanted before the answer can start: its call is bounded apart from
# the answer's (a small model under a JSON grammar can otherwise run on to the reply limit).
REWRITE_MAX_TOKENS = 256
REWRITE_DEADLINE_S = 10.0
MAX_KEYWORDS = 8
MAX_KEYWORD_CHARS = 40
MAX_GUESS_CHARS = 300
# How far the query vector moves towards the guessed answer's embedding: halfway, a prior (the
# dev split's cross-validation cannot fit it without a model at query time).
GUESS_SHARE = 0.5


class SearchHints(BaseModel):
    """What the model says the memories answering a message would contain."""

    keywords: list[str] = Field(
        default_factory=list,
        description="words or short names the answering notes would contain and the message does not",
    )
    answer_guess: str = Field("", description="one short sentence, written like such a note, answering it")


@dataclass(frozen=True)
class Rewrite:
    """A message's search hints, bounded; `failed` says why there are none."""

    keywords: tuple[str, ...] = ()
    guess: str = ""
    usage: Usage = field(default_factory=Usage)
    ms: float = 0.0
    failed: str | None = None

    def explained(self) -> str | None:
        """The line an explanation shows for the hints (None: there are none)."""
        if not (self.keywords or self.guess):
            return None
        words = ", ".join(self.keywords) or "-"
        return f"searched also for (query rewrite): {words}; guessed answer: {self.guess or '-'}"

    def warning(self) -> str | None:
        """What a recall warns when the rewrite failed."""
        return (
            f"query rewrite skipped, searched with the message alone: {self.failed}" if self.failed else None
        )


def bounded(hints: SearchHints) -> tuple[tuple[str, ...], str]:
    """The hints' keywords (distinct, non-blank, MAX_KEYWORDS of at most MAX_KEYWORD_CHARS) and
    guess (one line, MAX_GUESS_CHARS at most)."""
    words: list[str] = []
    seen: set[str] = set()
    for word in hints.keywords:
        if len(words) == MAX_KEYWORDS:
            break
        kept = " ".join(word[: 4 * MAX_KEYWORD_CHARS].split())[:MAX_KEYWORD_CHARS]
        if kept and kept.lower() not in seen:
            words.append(kept)
            seen.add(kept.lower())
    guess = " ".join(hints.answer_guess[: 4 * MAX_GUESS_CHARS].split())[:MAX_GUESS_CHARS].rstrip()
    return tuple(words), guess


def widened(vector: list[float], guess: list[float]) -> list[float]:
    """The query vector moved GUESS_SHARE of the way towards the guessed answer's (unit length)."""
    return combine(vector, guess, GUESS_SHARE)


class QueryRewriter:
    """Asks `model` for each message's search hints (one structured call)."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def messages(self, message: str) -> list[Message]:
        """The request for a message's hints. Secrets and personal identifiers (card numbers,
        IBANs, national ids) are never stored, so they are no use to a search, and the rewrite
        model may be another provider than the answer's: they are masked. Names, emails and
        health words stay: a search may need them."""
        return [Message("system", render("rewrite")), Message("user", redact(message, special=False))]

    def ask(self, message: str, span: Span = NULL) -> AskStructured:
        """The request as a turn yields it to its driver (framework.llm.requests), answered by
        this rewriter's model, traced under `span`."""
        return AskStructured(self.messages(message), SearchHints, model=traced(self.model, span))

    def received(self, out: Structured[SearchHints], started: float) -> Rewrite:
        """The hints of the model's reply, bounded (`started`: time.perf_counter() before the call)."""
        keywords, guess = bounded(out.value)
        return Rewrite(keywords, guess, out.usage, (time.perf_counter() - started) * 1000)

    def failed(self, exc: Exception, started: float) -> Rewrite:
        """No hints: the call failed (logged)."""
        log.warning("query rewrite failed, recall searches with the message alone: %s", exc)
        return Rewrite(ms=(time.perf_counter() - started) * 1000, failed=f"{type(exc).__name__}: {exc}")

    def rewrite(self, message: str, span: Span = NULL) -> Rewrite:
        """The message's hints, asked here (a turn asks through its driver instead: framework.loop);
        on a model failure none, with the reason. The call is traced as an LLM span under `span`."""
        if not message.strip():
            return Rewrite()
        started = time.perf_counter()
        try:
            out = traced(self.model, span).structured(self.messages(message), SearchHints)
        except FrameworkError as exc:
            return self.failed(exc, started)
        return self.received(out, started)


def rewriting_model(spec: str | Model, settings: Settings) -> Model:
    """The model that rewrites: a litellm model string is bound to REWRITE_MAX_TOKENS of reply and
    REWRITE_DEADLINE_S in all (or the settings' tighter bounds); a Model object is used as it is."""
    bounded_settings = replace(
        settings,
        llm_max_tokens=min(settings.llm_max_tokens, REWRITE_MAX_TOKENS),
        llm_deadline_s=min(settings.llm_deadline_s, REWRITE_DEADLINE_S),
        llm_timeout_s=min(settings.llm_timeout_s, REWRITE_DEADLINE_S),
    )
    return configured_model(spec, bounded_settings)


def checked_query_rewrite(value: object) -> bool | str:
    """`Agent.query_rewrite`: False (off), True (the agent's model) or a litellm model string."""
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise ConfigurationError(
        f"query_rewrite: expected False (off, the default), True (rewrite with the agent's model) or "
        f"a litellm model string such as 'openai/gpt-4o-mini', got {value!r}; set it on the agent class"
    )
