"""Step 1: what does the user want, and what does it mean for memory?"""

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


def detect_intent(model: Model, user_input: str) -> tuple[Intent, Usage]:
    if _TRIVIAL.match(user_input):
        return Intent(goal="acknowledge", task_type="chat", memory_query="", trivial=True), Usage()
    messages = [Message("system", render("intent")), Message("user", user_input)]
    out = model.structured(messages, Intent)
    return out.value, out.usage
