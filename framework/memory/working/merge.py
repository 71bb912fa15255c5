"""Concurrent saves of one session's state: a compare-and-set that merges instead of losing.

Every stored state carries a `version` (the number of saves). A save writes the state as is when
the store still holds exactly what it was loaded from (or nothing); when another process saved in
between, this state's changes are merged into the stored one, three-way against the state as
loaded: lists keep both sides' additions and honour removals, `intermediate_results` merges per
key, `writes` adds both sides' increments, and a scalar (goal, phase) changed on both sides takes
this save's value, with a warning logged.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from framework.clock import utcnow
from framework.memory.working.state import MAX_CONVERSATION_LINES, MAX_TOOL_RECORDS, WorkingState

log = logging.getLogger(__name__)


def parse_state(raw: str | bytes) -> WorkingState:
    state = WorkingState.model_validate_json(raw)
    state._base = raw.decode() if isinstance(raw, bytes) else raw
    return state


def next_stored(state: WorkingState, stored: str | bytes | None) -> str:
    """The JSON to store for `state`, given what is stored now: `state` itself when the store
    still holds exactly what `state` was loaded from (or nothing), else `state`'s changes merged
    into the stored state. Comparing the whole stored text, not only the version, means a state
    deleted and re-created meanwhile (same version number, other content) is merged too."""
    if isinstance(stored, bytes):
        stored = stored.decode()
    if stored is None or stored == state._base:
        # Nobody else saved: store `state` as it is. No copy: the caller adopts what is stored.
        result, stored_version = state, 0
        state._stored_as_is = True
    else:
        current = WorkingState.model_validate_json(stored)
        result, stored_version = _merge(state, current), current.version
    result.version = max(state.version, stored_version) + 1
    result.updated_at = utcnow()
    del result.conversation[:-MAX_CONVERSATION_LINES]
    del result.tool_history[:-MAX_TOOL_RECORDS]
    return result.model_dump_json()


# Lists whose items are a set: an item both sides added is kept once.
_SET_LIKE = {"completed_steps", "pending_actions", "constraints", "written_ids", "secret_marks"}
_COUNTERS = {"writes"}
_KEPT = {"user_id", "session_id", "version", "created_at", "updated_at"}  # taken from the store


def _merge(ours: WorkingState, theirs: WorkingState) -> WorkingState:
    empty = WorkingState(user_id=ours.user_id, session_id=ours.session_id, created_at=theirs.created_at)
    base = json.loads(ours._base) if ours._base is not None else empty.model_dump(mode="json")
    mine, stored = ours.model_dump(mode="json"), theirs.model_dump(mode="json")
    merged = dict(stored)
    clashes = []
    for name, value in mine.items():
        if name in _KEPT:
            continue
        was, now = base.get(name), stored.get(name)
        if isinstance(value, list):
            merged[name] = _merge_list(was or [], value, now or [], name in _SET_LIKE)
        elif isinstance(value, dict):
            merged[name] = _merge_dict(was or {}, value, now or {})
        elif name in _COUNTERS:
            merged[name] = (now or 0) + value - (was or 0)
        elif value != was:
            if now not in (was, value):
                clashes.append(name)
            merged[name] = value
    if clashes:
        log.warning(
            "working state of session %r changed concurrently; this save's %s replaced the other's",
            ours.session_id,
            ", ".join(clashes),
        )
    return WorkingState.model_validate(merged)


def _identity(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def _merge_list(base: list[Any], ours: list[Any], theirs: list[Any], set_like: bool) -> list[Any]:
    """theirs, less what ours removed from base, plus what ours added (in ours' order)."""
    before, after = Counter(map(_identity, base)), Counter(map(_identity, ours))
    removed, added = before - after, after - before
    out = []
    for item in theirs:
        key = _identity(item)
        if removed[key] > 0:
            removed[key] -= 1
        else:
            out.append(item)
    present = {_identity(item) for item in out}
    extra = []
    for item in reversed(ours):  # the most recent occurrences are the added ones
        key = _identity(item)
        if added[key] > 0:
            added[key] -= 1
            if not (set_like and key in present):
                extra.append(item)
    return out + extra[::-1]


def _merge_dict(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    out = dict(theirs)
    for key in base.keys() - ours.keys():
        out.pop(key, None)
    for key, value in ours.items():
        if key not in base or base[key] != value:
            out[key] = value
    return out
