"""Step 1: what does the user want, and what does it mean for memory?"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from framework.llm.base import Model
from framework.llm.messages import Message, Usage
from framework.memory.procedural import Skill
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
    skill: str | None = Field(None, description="the name of the listed skill that fits this request, if any")


def detect_intent(model: Model, user_input: str, skills: list[Skill] | None = None) -> tuple[Intent, Usage]:
    """One structured call (none for an acknowledgement). The skills the agent can walk are
    listed so the model can pick one: choosing a skill is a judgment, not a word match."""
    if _TRIVIAL.match(user_input):
        return Intent(goal="acknowledge", task_type="chat", memory_query="", trivial=True), Usage()
    messages = [Message("system", render("intent", skills=skills or [])), Message("user", user_input)]
    out = model.structured(messages, Intent)
    return out.value, out.usage
