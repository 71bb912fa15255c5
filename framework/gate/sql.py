"""SQL judged by its parse tree: which statements destroy data.

Why a parser and not a pattern: `DROP/**/TABLE`, `drop\ttable`, `TRUNCATE users`, a `DELETE`
hidden in a CTE or a `DELETE ... WHERE 1=1` all read differently and mean the same. The text is
split into statements (quotes, comments and `$tag$` bodies respected), each statement is parsed
with sqlglot under several dialects (the caller's first), and the tree is walked.

Findings (kind names are stable; policies match them):
  sql_drop        DROP of anything (table, database, schema, view, index, ...)
  sql_truncate    TRUNCATE
  sql_delete_all  DELETE with no WHERE, or a WHERE that is always true
  sql_update_all  UPDATE with no WHERE, or a WHERE that is always true
  sql_alter_drop  ALTER ... DROP COLUMN / CONSTRAINT / PARTITION

"Always true" WHERE: it simplifies to TRUE (`1=1`, `true`, `'a'='a'`, `2>1`, `1=1 OR id=3`,
`NOT FALSE`), compares a column to itself (`id = id`), or mentions no column at all and does not
simplify to FALSE or NULL (`WHERE 1`). Data-dependent conditions (`id > 0`) are not judged.

Fail closed: a statement no dialect parses, or one that parses to a bare expression rather than a
statement, makes the verdict `unparseable`; destructive keywords in such a statement still give
their kind (keyword fallback, stricter, never looser). Text over MAX_SQL_CHARS is unparseable.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.simplify import simplify

DIALECTS: tuple[str, ...] = ("postgres", "mysql", "sqlite", "tsql")
MAX_SQL_CHARS = 64 * 1024
MAX_STATEMENTS = 500

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is not news here

_STATEMENTS = (
    exp.Query,
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Show,
    exp.Describe,
    exp.Set,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Merge,
    exp.Pragma,
    exp.Analyze,
    exp.Copy,
    exp.Grant,
    exp.Revoke,
    exp.Execute,
    exp.Kill,
    exp.Cache,
    exp.LoadData,
    exp.Declare,
)
# Pieces of SQL text that a `;` inside them does not end: comments, strings, quoted names, $tag$ bodies.
_OPAQUE = re.compile(
    r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|\"(?:[^\"]|\"\")*(?:\"|\Z)|`[^`]*(?:`|\Z)"
    r"|\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z)",
    re.S,
)
_WORD = re.compile(r"[A-Za-z_]+")


class SqlIssue(NamedTuple):
    kind: str
    reason: str
    details: dict[str, Any]


@dataclass
class SqlVerdict:
    issues: list[SqlIssue] = field(default_factory=list)
    unparseable: str | None = None


def split_statements(text: str) -> list[str]:
    """The statements of `text`, split at `;` outside comments, strings and quoted bodies."""
    out: list[str] = []
    start = pos = 0
    semi, hit = -1, _OPAQUE.search(text)  # both cached: each is searched again only once passed
    while True:
        if 0 <= semi < pos or semi == -1:
            semi = text.find(";", pos)
            semi = len(text) if semi < 0 else semi
        if hit is not None and hit.start() < pos:
            hit = _OPAQUE.search(text, pos)
        if hit is not None and hit.start() < semi:
            pos = max(hit.end(), hit.start() + 1)
            continue
        if text[start:semi].strip():
            out.append(text[start:semi].strip())
        if semi >= len(text):
            return out
        start = pos = semi + 1


def _keywords(statement: str) -> list[str]:
    """Upper-cased words outside comments and strings: the keyword fallback's view."""
    return [w.upper() for w in _WORD.findall(_OPAQUE.sub(" ", statement))]


def _always_true(condition: exp.Expression) -> bool:
    cond = condition.copy()
    for eq in list(cond.find_all(exp.EQ)):
        if eq.left == eq.right and eq.left.find(exp.Column) is not None:
            if eq is cond:  # `id = id`: true wherever id is not NULL
                cond = exp.true()
            else:
                eq.replace(exp.true())
    with contextlib.suppress(Exception):  # the simplifier is best effort; else judge the raw condition
        cond = simplify(cond)
    if isinstance(cond, exp.Boolean):
        return bool(cond.this)
    if cond.find(exp.Column) is not None:
        return False
    return not isinstance(cond, exp.Null)


def _table(node: exp.Expression) -> str:
    targets = node.args.get("tables") or [node.this]
    return ", ".join(t.sql() if isinstance(t, exp.Expression) else str(t or "") for t in targets)


def _drops(action: exp.Expression) -> bool:
    """An ALTER action that removes something: Drop, DropPartition, DropPrimaryKey, `DROP ...`."""
    if isinstance(action, exp.Command):
        return str(action.this).upper() == "DROP"
    return type(action).__name__.startswith("Drop")


def _issues_in_tree(stmt: exp.Expression) -> Iterator[SqlIssue]:
    for node in stmt.walk():
        if isinstance(node, exp.Drop):
            kind = str(node.args.get("kind") or "object").upper()
            if node.parent is None or not isinstance(node.parent, exp.Alter):
                name = _table(node)
                yield SqlIssue("sql_drop", f"DROP {kind} {name}".strip(), {"object": kind, "name": name})
        elif isinstance(node, exp.TruncateTable):
            names = [e.sql() for e in node.expressions]
            yield SqlIssue("sql_truncate", f"TRUNCATE {', '.join(names)}", {"tables": names})
        elif isinstance(node, exp.Delete | exp.Update):
            verb = "DELETE" if isinstance(node, exp.Delete) else "UPDATE"
            kind = f"sql_{verb.lower()}_all"
            where = node.args.get("where")
            if where is None:
                yield SqlIssue(kind, f"{verb} {_table(node)} without WHERE", {"table": _table(node)})
            elif _always_true(where.this):
                yield SqlIssue(
                    kind,
                    f"{verb} {_table(node)} WHERE {where.this.sql()} is always true",
                    {"table": _table(node), "where": where.this.sql()},
                )
        elif isinstance(node, exp.Alter):
            actions = node.args.get("actions") or []
            dropped = [a for a in actions if _drops(a)]
            if dropped:
                what = ", ".join(a.sql() for a in dropped)
                yield SqlIssue("sql_alter_drop", f"ALTER {_table(node)}: {what}", {"table": _table(node)})


def _issues_from_keywords(words: list[str]) -> Iterator[SqlIssue]:
    """Stricter reading of a statement sqlglot kept as an opaque Command or could not parse."""
    if words[:1] == ["EXPLAIN"]:
        if "ANALYZE" in words[1:3]:  # EXPLAIN ANALYZE runs the statement
            yield from _issues_from_keywords([w for w in words[1:] if w not in ("ANALYZE", "VERBOSE")])
        return
    head = words[0] if words else ""
    if head == "DROP":
        yield SqlIssue("sql_drop", " ".join(words[:3]), {"object": words[1] if len(words) > 1 else ""})
    elif head == "TRUNCATE":
        yield SqlIssue("sql_truncate", " ".join(words[:3]), {})
    elif head in ("DELETE", "UPDATE") and "WHERE" not in words:
        kind = "sql_delete_all" if head == "DELETE" else "sql_update_all"
        yield SqlIssue(kind, f"{head} without WHERE", {})
    elif head == "ALTER" and "DROP" in words:
        yield SqlIssue("sql_alter_drop", "ALTER ... DROP", {})


def _parse(statement: str, dialects: Sequence[str]) -> exp.Expression | None:
    for dialect in dialects:
        try:
            trees = [t for t in sqlglot.parse(statement, read=dialect) if t is not None]
        except (SqlglotError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
            continue
        if len(trees) != 1:
            continue
        tree = trees[0]
        is_statement = isinstance(tree, _STATEMENTS)  # not a bare expression (`garbage here`)
        if is_statement and isinstance(tree, exp.Expression):
            return tree
    return None


def classify(text: str, dialects: Sequence[str] = DIALECTS) -> SqlVerdict:
    """Destructive statements in `text`, trying `dialects` in order for each statement."""
    if len(text) > MAX_SQL_CHARS:
        return SqlVerdict(unparseable=f"SQL text of {len(text)} characters is over the {MAX_SQL_CHARS} cap")
    order = list(dict.fromkeys([*dialects, *DIALECTS]))
    verdict = SqlVerdict()
    statements = split_statements(text)
    if len(statements) > MAX_STATEMENTS:
        return SqlVerdict(unparseable=f"{len(statements)} SQL statements, over the {MAX_STATEMENTS} cap")
    for statement in statements:
        words = _keywords(statement)
        if not words:
            continue  # only comments
        tree = _parse(statement, order)
        if tree is None:
            verdict.issues.extend(_issues_from_keywords(words))
            snippet = statement if len(statement) <= 60 else statement[:57] + "..."
            verdict.unparseable = verdict.unparseable or f"SQL no dialect could parse: {snippet!r}"
        elif isinstance(tree, exp.Command):
            verdict.issues.extend(_issues_from_keywords(words))
        else:
            verdict.issues.extend(_issues_in_tree(tree))
    return verdict
