"""Hard deletion in L3 long-term memory: one memory (`Erasure.delete`) or all of a user's
(`Erasure.delete_user`, the right to erasure), leaving none of their words in the store.

LongTermMemory keeps one Erasure and hands its `delete` and `delete_user` on; soft forgetting is the
store's (LongTermMemory.forget).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select
from sqlmodel import SQLModel

from framework.log import authored_reason, user_ref
from framework.memory.longterm.audit import AUDIT_TABLE, AuditTrail
from framework.memory.longterm.backends import Backend, execute, write_transaction
from framework.memory.longterm.records import stamp, utcnow
from framework.sensitive import redact


class Erasure:
    def __init__(self, engine: Engine, backend: Backend, trail: AuditTrail) -> None:
        self.engine = engine
        self.backend = backend
        self.trail = trail  # its unwritten recalls are written (or dropped) before an erasure

    def delete(self, user_id: str, memory_id: int, *, actor: str, reason: str) -> bool:
        """Hard-delete one memory, whatever its status, leaving none of its words in the store: its
        row, both index rows (securely: Backend.erase), the pending writes that would act on it,
        and the text of its audit rows and of the recalls that returned it (`_erase_audit_text`).
        The audit keeps that it was deleted, by whom and why (the requester's reason)."""
        self.trail.flush_reads()
        with write_transaction(self.engine) as conn:
            found = execute(
                conn, "SELECT id FROM memory WHERE user_id = ? AND id = ?", (user_id, memory_id)
            ).first()
            if found is None:
                return False
            thorough = self.backend.erase(conn, [memory_id])
            execute(conn, "DELETE FROM memory WHERE user_id = ? AND id = ?", (user_id, memory_id))
            execute(conn, "DELETE FROM pending_write WHERE user_id = ? AND target = ?", (user_id, memory_id))
            _erase_audit_text(conn, user_id, memory_id)
            execute(
                conn,
                "INSERT INTO audit (at, user_id, memory_id, operation, actor, reason, detail) "
                "VALUES (?, ?, ?, 'delete', ?, ?, '{}')",
                (stamp(utcnow()), user_id, memory_id, actor, redact(reason)),
            )
        self.backend.compact(self.engine, thorough)
        return True

    def delete_user(self, user_id: str, *, actor: str, reason: str) -> dict[str, int]:
        """Right to erasure: the user's memories (any status), their vector and lexical index rows,
        and the rows of every other table keyed by user (pending writes, settings, unfinished memory
        work: `_user_tables`) are deleted. The audit keeps each event (time, actor,
        operation, memory id, the framework's own reason) under `erased_user(user_id)` instead of
        the id, with every text a user or a model wrote erased; a 'delete_user' event records the
        erasure. On SQLite the freed bytes are zeroed and the WAL emptied into the file
        (`files_clean` is 0 when another process's open read kept it)."""
        self.trail.drop_reads(user_id)  # unwritten: nothing to erase
        self.trail.flush_reads()
        with write_transaction(self.engine) as conn:
            ids = [r[0] for r in execute(conn, "SELECT id FROM memory WHERE user_id = ?", (user_id,))]
            thorough = self.backend.erase(conn, ids)
            execute(conn, "DELETE FROM memory WHERE user_id = ?", (user_id,))
            counts = {"memories": len(ids)}
            for table in _user_tables():
                deleted = execute(conn, f"DELETE FROM {table} WHERE user_id = ?", (user_id,)).rowcount
                counts[_COUNTED_AS.get(table, table)] = deleted
            counts["audit"] = _erase_audit_text(conn, user_id, None, erased_user(user_id))
            conn.execute(
                AUDIT_TABLE.insert(),
                {
                    "at": utcnow(),
                    "user_id": erased_user(user_id),
                    "operation": "delete_user",
                    "actor": actor,
                    "reason": redact(reason),
                    "detail": dict(counts),
                },
            )
        counts["files_clean"] = int(self.backend.compact(self.engine, thorough))
        return counts


_APART = {"memory", "memory_vec", "memory_fts", "audit"}  # deleted through Backend.erase; scrubbed
_COUNTED_AS = {"pending_write": "pending", "user_settings": "settings"}


def _user_tables() -> list[str]:
    """The store's tables keyed by user (a user_id column) whose rows an erasure deletes outright:
    all but the memory, its indexes and the audit. Found from the models (records.py), so that a
    table added later is erased too."""
    tables = SQLModel.metadata.tables.values()
    return sorted(t.name for t in tables if "user_id" in t.c and t.name not in _APART)


# Detail fields whose strings are the framework's vocabulary (memory types, sources, pending
# actions, tool names and verdicts, policy names): kept when a user's text is erased. Every other
# field holding a string (a recall's query, a rejected candidate's content, ...) is erased.
_VOCABULARY = {"type", "source", "action", "tool", "verdict", "policies", "erased"}


def erased_user(user_id: str) -> str:
    """What an erased user's audit rows carry instead of the id: a hash of it (the log's user_ref),
    so that the erasure stays provable for a known id while no row names the user."""
    return f"erased:{user_ref(user_id)}"


def scrub_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """An audit row's detail without user text: numbers, flags and ids stay, as do the fields of
    _VOCABULARY; the names of the fields erased are listed under "erased"."""
    kept = {k: v for k, v in detail.items() if k in _VOCABULARY or not _holds_text(v)}
    gone = set(detail) - set(kept)
    if gone:
        kept["erased"] = sorted(gone | set(kept.get("erased", [])))
    return kept


def _holds_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    return isinstance(value, list) and any(_holds_text(v) for v in value)


def _erase_audit_text(conn: Connection, user_id: str, memory_id: int | None, tombstone: str = "") -> int:
    """Erase the text in a user's audit rows (`memory_id`: only that memory's rows and the recalls
    that returned it): reasons the framework did not write (log.authored_reason) and detail fields
    holding text (scrub_detail); with `tombstone`, the user id too. Returns the rows changed."""
    audit = AUDIT_TABLE
    query = select(audit.c.id, audit.c.memory_id, audit.c.reason, audit.c.detail).where(
        audit.c.user_id == user_id
    )
    if memory_id is not None:
        query = query.where(or_(audit.c.memory_id == memory_id, audit.c.operation == "read"))
    changes = []
    for row in conn.execute(query):
        detail = row.detail or {}
        if memory_id is not None and row.memory_id != memory_id and memory_id not in detail.get("ids", []):
            continue
        reason = authored_reason(row.reason or "") if row.reason else ""
        scrubbed = scrub_detail(detail)
        if tombstone or reason != row.reason or scrubbed != detail:
            changes.append({"row": row.id, "new_reason": reason, "new_detail": scrubbed})
    if changes:
        values: dict[str, Any] = {"reason": bindparam("new_reason"), "detail": bindparam("new_detail")}
        if tombstone:
            values["user_id"] = tombstone
        conn.execute(audit.update().where(audit.c.id == bindparam("row")).values(**values), changes)
    return len(changes)
