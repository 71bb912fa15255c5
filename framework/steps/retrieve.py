"""Step 2: what memory contributes to this turn (all active constraints and preferences, the
best-ranked facts and outcomes, the matching skills, the policies), each item explained."""

from __future__ import annotations

from framework.memory.manager import MemoryManager
from framework.memory.procedural import Procedures
from framework.memory.recollection import Recollection
from framework.steps.intent import Intent


def retrieve(
    memory: MemoryManager, user_id: str | None, intent: Intent, user_input: str, procedures: Procedures
) -> Recollection:
    """Search with the intent's memory query and the user's own words."""
    query = " ".join(filter(None, [intent.memory_query, user_input]))
    return memory.recall(user_id, query, (intent.task_type,), procedures)


def task_goal(intent: Intent) -> str | None:
    """The session's task, for working memory: set by requests that do something, not by chat."""
    if intent.trivial or intent.task_type in ("chat", "question"):
        return None
    return intent.goal
