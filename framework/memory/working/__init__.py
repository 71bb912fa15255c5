"""L2 working memory: one session's task state, kept with a TTL in diskcache or Redis.

The state survives a process restart (a task resumes where it was, in any process) and expires
when the session has been idle for the TTL; `complete` drops it when the task is done.
Everything stored here that came from a user or a tool has been redacted by the caller first.
Sessions are keyed by (user, session); concurrent saves of one session merge (working.merge).
"""

from framework.memory.working.diskcache_store import DiskcacheWorkingStore
from framework.memory.working.factory import REDIS_SCHEMES, open_working_store
from framework.memory.working.state import (
    MAX_CONVERSATION_LINES,
    MAX_TOOL_RECORDS,
    ConversationLine,
    TaskDecision,
    ToolRecord,
    WorkingState,
)
from framework.memory.working.store import WorkingStore

__all__ = [
    "MAX_CONVERSATION_LINES",
    "MAX_TOOL_RECORDS",
    "REDIS_SCHEMES",
    "ConversationLine",
    "DiskcacheWorkingStore",
    "TaskDecision",
    "ToolRecord",
    "WorkingState",
    "WorkingStore",
    "open_working_store",
]
