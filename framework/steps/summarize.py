"""Keeping the conversation within the context window: the oldest lines are folded into a
rolling summary (one LLM call from prompts/summarize.j2), kept in working memory."""

from __future__ import annotations

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.working import ConversationLine
from framework.prompts import render


def summary_prompt(previous: str, lines: list[ConversationLine], max_words: int = 200) -> list[Message]:
    return [Message("user", render("summarize", previous=previous, lines=lines, max_words=max_words))]


def summarize(
    model: Model, previous: str, lines: list[ConversationLine], max_words: int = 200
) -> tuple[str, Usage]:
    reply = model.complete(summary_prompt(previous, lines, max_words))
    return (reply.text or "").strip() or previous, reply.usage
