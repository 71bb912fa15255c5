"""What did the user want, and what does it mean for memory? Asked after the answer, as the
first part of the turn's memory work (framework.steps.memorize): the answer never waits for it.
Retrieval searches with the user's own words; skills are chosen in the answer request."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.prompts import render

# Acknowledgements cost no LLM call at all: there is nothing in them to understand or remember.
_TRIVIAL = re.compile(
    r"^\s*(thanks?( you)?( very much)?|thx|ty|ok(ay)?|k|cool|great|nice|got it|sounds good|"
    r"perfect|bye|goodbye|see you|cheers|yes|no|sure|np|no problem|lol|hi|hello|hey)[\s.!?]*$",
    re.IGNORECASE,
)


class Intent(BaseModel):
    goal: str = Field(description="what the user wants, in one sentence")
    task_type: str = Field("chat", description="one word: chat, coding, question, deploy, review, ...")
    memory_query: str = Field("", description="words to search long-term memory with")
    remember: bool = Field(False, description="the user states something worth keeping")
    forget: bool = Field(False, description="the user asks to forget something")
    correction: bool = Field(False, description="the user corrects something said before")
    trivial: bool = Field(False, description="acknowledgement or small talk: nothing to do or keep")


ACKNOWLEDGED = Intent(goal="acknowledge", task_type="chat", memory_query="", trivial=True)


def is_trivial(user_input: str) -> bool:
    """An acknowledgement: nothing in it to understand or remember (no LLM call at all)."""
    return bool(_TRIVIAL.match(user_input))


def detect_intent(model: Model, user_input: str) -> tuple[Intent, Usage]:
    """One structured call (none for an acknowledgement)."""
    if is_trivial(user_input):
        return ACKNOWLEDGED.model_copy(), Usage()
    messages = [Message("system", render("intent")), Message("user", user_input)]
    out = model.structured(messages, Intent)
    return out.value, out.usage
