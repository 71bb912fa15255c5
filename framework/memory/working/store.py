"""Where working state lives: the protocol its stores implement, and the keys they use."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote, unquote

from framework.memory.working.state import WorkingState


class WorkingStore(Protocol):
    """Where working state lives: `DiskcacheWorkingStore` (the embedded default) and
    `RedisWorkingStore` (the scale-out one); `open_working_store` picks one from the settings."""

    ttl_s: int

    def load(self, user_id: str | None, session_id: str) -> WorkingState: ...

    def save(self, state: WorkingState) -> None: ...

    def clear(self, user_id: str | None, session_id: str) -> None: ...

    def complete(self, user_id: str | None, session_id: str) -> WorkingState | None: ...

    def delete_user(self, user_id: str) -> int: ...

    def sessions(self, user_id: str) -> list[WorkingState]: ...

    def close(self) -> None: ...


def state_key(user_id: str | None, session_id: str, prefix: str = "working") -> str:
    # Each id is quoted so that ("a:b", "c") and ("a", "b:c") never share an entry; "*" never
    # comes out of quote(), so anonymous sessions cannot collide with a user named anything.
    # quote() also escapes the glob characters * ? [ ], so a user's prefix is a safe pattern.
    user = "*" if user_id is None else quote(user_id, safe="")
    return f"{prefix}:{user}:{quote(session_id, safe='')}"


def session_of(key: str) -> str:
    """The session id in a key made by `state_key`."""
    return unquote(key.rsplit(":", 1)[-1])


def user_prefix(user_id: str, prefix: str = "working") -> str:
    return f"{prefix}:{quote(user_id, safe='')}:"
