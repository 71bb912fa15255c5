"""The memory operations' LLM calls: one extraction per turn (candidates and forget requests, as
structured output) and, only when the curator needs it, one comparison of candidates with similar
stored memories the extraction was not shown. Every prompt is a template in prompts/."""

from __future__ import annotations

from framework.inputs import safe_text
from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.governance.candidates import Comparison, Extraction
from framework.memory.governance.curation import Judge, SimilarPair
from framework.memory.longterm import MemoryEntry
from framework.outcome import Exchange
from framework.prompts import render
from framework.sensitive import redact


def extract(model: Model, exchange: Exchange, known: list[MemoryEntry]) -> tuple[Extraction, Usage]:
    prompt = render(
        "extract",
        known=known,
        user_input=redact(exchange.user_input),
        answer=redact(exchange.answer),
        tool_calls=exchange.tool_calls,
        outcome=exchange.outcome,
    )
    out = model.structured([Message("user", prompt)], Extraction)
    extraction = out.value
    for candidate in extraction.memories:  # model output is text from outside, like a message
        candidate.content = safe_text(candidate.content)
        candidate.tags = [safe_text(tag) for tag in candidate.tags]
    for request in extraction.forget:
        request.reason = safe_text(request.reason)
    return extraction, out.usage


def comparer(model: Model, usage: Usage) -> Judge:
    """The judge the curator calls (at most once a turn) for candidate/memory pairs; its tokens are
    added to `usage`."""

    def judge(pairs: list[SimilarPair]) -> Comparison:
        out = model.structured([Message("user", render("compare", pairs=pairs))], Comparison)
        usage.add(out.usage)
        return out.value

    return judge
