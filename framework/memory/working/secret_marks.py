"""Marks of the secrets a session has seen, so a secret said in one turn and referred to in a
later one ("use that password for the bank too") is still recognised — without keeping it.

A mark is "<words>:<hash>": how many words the secret has, and a keyed hash (BLAKE2b with a random
per-session key, 16 hex digits) of its normalised value — enough to recognise the same value again,
useless for recovering it, different in every session. A text "holds a marked secret" when one of
its runs of words, as long as a marked secret and stripped of quotes and punctuation, hashes to a
mark; only the lengths that marks have are tried, so the cost stays linear in the text.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

MAX_WORDS = 32  # the longest secret phrase recognised (a 24-word seed phrase fits)
MAX_MARKS = 256  # per session; the oldest go first
MIN_CHARS = 3  # a PIN, a CVV
_WORD = re.compile(r"\S+")
_EDGES = "'\"`.,;:!?()[]{}<>"


def new_key() -> str:
    return secrets.token_hex(16)


def _norm(value: str) -> str:
    return " ".join(w.strip(_EDGES) for w in value.split()).strip()


def mark(key: str, value: str) -> str:
    norm = _norm(value)
    digest = hashlib.blake2b(norm.encode("utf-8", "replace"), key=bytes.fromhex(key), digest_size=8)
    return f"{len(norm.split())}:{digest.hexdigest()}"


def marks_of(key: str, values: Iterable[str]) -> list[str]:
    return [mark(key, v) for v in values if len(_norm(v)) >= MIN_CHARS and len(v.split()) <= MAX_WORDS]


def _marked_runs(key: str, known: set[str], text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each run of words whose phrase is marked, longest first."""
    words = [(m.start(), m.end(), m.group().strip(_EDGES)) for m in _WORD.finditer(text)]
    lengths = sorted({int(k.split(":", 1)[0]) for k in known if ":" in k}, reverse=True)
    runs = []
    for i in range(len(words)):
        for n in lengths:
            if i + n > len(words):
                continue
            phrase = " ".join(w for _, _, w in words[i : i + n])
            if len(phrase) >= MIN_CHARS and mark(key, phrase) in known:
                runs.append((words[i][0], words[i + n - 1][1]))
                break
    return runs


def holds_marked(key: str, marks: Iterable[str], text: str) -> bool:
    known = set(marks)
    return bool(known) and bool(_marked_runs(key, known, text))


def mask_marked(key: str, marks: Iterable[str], text: str) -> str:
    """`text` with every run of words that repeats a marked secret replaced by [REDACTED]."""
    known = set(marks)
    if not known:
        return text
    out, pos = [], 0
    for start, end in sorted(_marked_runs(key, known, text)):
        if start < pos:
            continue
        out += [text[pos:start], "[REDACTED]"]
        pos = end
    return "".join(out) + text[pos:]
