"""PostgreSQL's lexical index: the store's own text search configuration (`framework_english`),
each memory's tsvector and word count, and the BM25 statement that ranks them as SQLite's FTS5
does (see `PostgresBackend.lexical`)."""

from __future__ import annotations

import re

from sqlalchemy import Connection

from framework.memory.longterm.backends import execute

WORD = re.compile(r"\w+")  # a word as FTS5's unicode61 tokenizer finds one

# The lexical index's text search configuration: PostgreSQL's 'english' (Snowball stemmer) without
# its stop list, made in the store's schema. FTS5 indexes every word; 'english' drops "more",
# "again", "own", "few", ... from memories and queries alike (LoCoMo dev any@10 0.859 with it,
# 0.871 without, SQLite 0.875). Stems are the same, so tsvectors made with 'english' by an older
# store still match every word they hold.
TEXT_SEARCH = "framework_english"
STEMMER = "framework_english_stem"


def make_text_search(conn: Connection) -> None:
    """Make the store's text search configuration (TEXT_SEARCH) unless its schema has it;
    makers of one store take turns (an advisory lock)."""
    exists = (
        "SELECT 1 FROM pg_ts_config WHERE cfgname = ? "
        "AND cfgnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    )
    if execute(conn, exists, (TEXT_SEARCH,)).first():
        return
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('framework:text_search'))")
    if execute(conn, exists, (TEXT_SEARCH,)).first():
        return
    conn.exec_driver_sql(f"CREATE TEXT SEARCH DICTIONARY {STEMMER} (TEMPLATE = snowball, Language = english)")
    conn.exec_driver_sql(f"CREATE TEXT SEARCH CONFIGURATION {TEXT_SEARCH} (COPY = english)")
    conn.exec_driver_sql(
        f"ALTER TEXT SEARCH CONFIGURATION {TEXT_SEARCH} ALTER MAPPING REPLACE english_stem WITH {STEMMER}"
    )


ROWS_UP_TO = 100_000
# BM25 over the user's memories that match any term (the GIN index finds them): each matching
# (memory, query lexeme) with its frequency, the lexeme's document frequency among them (n), the
# memories' lengths in words (dl) and their mean. Only the query's lexemes of a tsvector are
# unnested: ts_delete drops the others (the lexemes left after deleting the query's), 2.1 ms
# instead of 2.6 at 455 matches of 100k memories, against unnesting every lexeme and joining.
# Parameters: user, the terms OR-ed, the terms, N, k.
BM25 = f"""
WITH m AS MATERIALIZED (
  SELECT rowid, content, coalesce(words, length(content)) AS dl FROM memory_fts
  WHERE user_id = ? AND content @@ websearch_to_tsquery('{TEXT_SEARCH}', ?)
), hits AS (
  SELECT m.rowid, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf, m.dl,
    count(*) OVER (PARTITION BY u.lexeme) AS n
  FROM m CROSS JOIN (SELECT tsvector_to_array(to_tsvector('{TEXT_SEARCH}', ?)) AS lexemes) AS q
  CROSS JOIN LATERAL unnest(ts_delete(m.content, tsvector_to_array(ts_delete(m.content, q.lexemes)))) AS u
)
SELECT rowid,
  sum(ln(1 + (greatest(?, n) - n + 0.5) / (n + 0.5))
      * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / (SELECT greatest(avg(dl), 1) FROM m)))) AS score
FROM hits GROUP BY rowid ORDER BY score DESC, rowid LIMIT ?
"""


def text_search_objects() -> list[tuple[str, str]]:
    """The text search objects a store makes in its schema, in the order to drop them."""
    return [("CONFIGURATION", TEXT_SEARCH), ("DICTIONARY", STEMMER)]
