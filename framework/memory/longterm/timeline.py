"""When a user's memories were active: recall as of a past time, "what did we know then".

Bitemporal, on event time. A memory was active at `as_of` when all of these hold:

- it was known by then: its `created_at` is at or before `as_of` (when its words were said, given
  `said_at`; else when it was stored);
- it was still valid: no `valid_until`, or one after `as_of`;
- it had not stopped being active by then: it is active now, or it was superseded after
  `as_of`. A forgotten memory never comes back, as of any time: forgetting (asked for by the
  user, or by the forgetting policy) means it is never recalled again, and history is the
  supersede chain, not what was let go.

When a superseded or forgotten memory stopped being active is read from what the store has always
kept, not from a new column, so the answer is right for memories superseded or forgotten before
this code existed too: its latest supersede or forget event in the audit trail, at the time the
words that ended it were said (the event's detail `said_at`, written since event time is kept)
or else at the time the event was written (`at`). With no such event (a trail cut short), a
superseded memory stopped when the memory that superseded it was written; a memory whose end
cannot be told is left out rather than guessed. A hard-deleted memory is gone from every as_of.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from framework.memory.longterm.backends import execute
from framework.memory.longterm.records import (
    COLUMN_LIST,
    MemoryEntry,
    MemoryStatus,
    as_utc,
    entry_from_row,
    stamp,
)

_ENDED_BY = ("supersede", "forget")


def active_at(
    engine: Engine,
    user_id: str,
    as_of: datetime,
    types: Iterable[str] | None = None,
    *,
    ended_only: bool = False,
) -> list[MemoryEntry]:
    """The user's memories (of these types) that were active at `as_of`, oldest first; with
    `ended_only`, only those that were active then and are not now (what no index holds)."""
    where, params = "user_id = ? AND created_at <= ?", [user_id, stamp(as_of)]
    if ended_only:
        where += " AND status != 'active'"
    if types is not None:
        kinds = list(types)
        where += f" AND memory_type IN ({','.join('?' * len(kinds))})"
        params += kinds
    with engine.connect() as conn:
        rows = execute(
            conn, f"SELECT {COLUMN_LIST} FROM memory WHERE {where} ORDER BY id", tuple(params)
        ).fetchall()
        entries = [
            e for e in (entry_from_row(row) for row in rows) if e.valid_until is None or e.valid_until > as_of
        ]
        ended = ended_at(conn, user_id, [e for e in entries if e.status != MemoryStatus.active.value])
    return [
        e
        for e in entries
        if e.status == MemoryStatus.active.value
        or (e.status == MemoryStatus.superseded.value and e.id in ended and ended[e.id] > as_of)
    ]


def ended_at(conn: Connection, user_id: str, entries: list[MemoryEntry]) -> dict[int, datetime]:
    """When each of these superseded or forgotten memories stopped being active (see the module's
    docstring); a memory whose end cannot be told is not in the answer."""
    ids = [e.id for e in entries if e.id is not None]
    if not ids:
        return {}
    ended: dict[int, datetime] = {}
    marks = ",".join("?" * len(ids))
    for mid, at, detail in execute(
        conn,
        "SELECT memory_id, at, detail FROM audit WHERE user_id = ? "
        f"AND operation IN ('supersede', 'forget') AND memory_id IN ({marks}) ORDER BY id",
        (user_id, *ids),
    ):
        said = _detail(detail).get("said_at")
        when = as_utc(said) if isinstance(said, str) else as_utc(at)
        assert when is not None
        ended[mid] = when  # the latest event wins
    missing = {e.superseded_by: e.id for e in entries if e.id not in ended and e.superseded_by is not None}
    if missing:
        marks = ",".join("?" * len(missing))
        for by, created in execute(
            conn,
            f"SELECT id, created_at FROM memory WHERE user_id = ? AND id IN ({marks})",
            (user_id, *missing),
        ):
            when = as_utc(created)
            assert when is not None
            ended[missing[by]] = when  # type: ignore[index]
    return ended


def _detail(value: Any) -> dict[str, Any]:
    """An audit row's detail: JSON text from SQLite, already decoded from PostgreSQL."""
    if isinstance(value, dict):
        return value
    decoded = json.loads(value) if value else {}
    return decoded if isinstance(decoded, dict) else {}
