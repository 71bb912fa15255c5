"""Linear-time scanning: RE2 patterns run over the UTF-8 bytes of a text.

Python's `re` backtracks, and a pattern like `[\\w]*password` takes quadratic time on a long line of
underscores. RE2 (`google-re2`) runs in time linear in the input. Three rules keep the whole scan linear:

- every pattern over user text is compiled by RE2, and the text is encoded once: the `re2` wrapper would
  re-encode a `str` on every call, so the detectors work on `bytes` and map offsets back at the end;
- every repetition in a pattern is bounded, or is a run the match consumes (a token, a word): no thread
  of the automaton runs far past the match it reports, so successive searches do not rescan the text;
- Python does a bounded amount of work per match (a window of at most a few hundred bytes); Python's
  `re` runs full patterns only on such windows and on values, and over a whole text only single-class
  substitutions (linear).

Patterns are kept small (see `grammar`): counted repetitions and case-insensitive Unicode folding blow up
the automaton, and then every search slows down. Matches are read through the binding's `Match` call
(one call per match, every group's span at once), with the public API as a fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 64 << 20  # room for the DFA of the larger alternations: no fallback to the slow NFA
try:  # google-re2's binding: one call per match returning every group's span (the wrapper adds ~3 us)
    from re2 import _re2

    _UNANCHORED: Any = _re2.RE2.Anchor.UNANCHORED
except (ImportError, AttributeError):  # pragma: no cover - another version of the wrapper
    _UNANCHORED = None


class Pattern:
    """A compiled RE2 pattern with its group names resolved once (the wrapper rebuilds that mapping on
    every lookup by name), and the names of its top-level alternatives, if it is an alternation of
    named groups."""

    __slots__ = ("regex", "index", "alternatives", "lower", "_raw")

    def __init__(self, source: str, alternatives: tuple[str, ...] = (), lower: bool = False) -> None:
        self.regex: Any = re2.compile(source, _OPTIONS)
        self.index: dict[str, int] = dict(self.regex.groupindex)
        self.alternatives = tuple((name, self.index[name]) for name in alternatives)
        self.lower = lower
        self._raw: Any = getattr(self.regex, "_regexp", None) if _UNANCHORED is not None else None

    def spans(self, data: bytes, start: int, end: int) -> Iterator[Any]:
        """The spans of every group, for each successive match in data[start:end]."""
        raw = self._raw
        if raw is None:
            groups = range(self.regex.groups + 1)
            for m in self.regex.finditer(data, start, end):
                yield [m.span(i) for i in groups]
            return
        pos = start
        while pos <= end:
            found = raw.Match(_UNANCHORED, data, pos, end)
            match_end = found[0][1]
            if match_end < 0:
                return
            yield found
            pos = match_end if match_end > pos else pos + 1


class Match:
    """One match, read by group name."""

    __slots__ = ("_spans", "_p", "_data")

    def __init__(self, spans: Any, pattern: Pattern, data: bytes) -> None:
        self._spans, self._p, self._data = spans, pattern, data

    def span(self, name: str | None = None) -> tuple[int, int]:
        span: tuple[int, int] = self._spans[0 if name is None else self._p.index[name]]
        return span

    def start(self, name: str | None = None) -> int:
        return self.span(name)[0]

    def end(self, name: str | None = None) -> int:
        return self.span(name)[1]

    def group(self, name: str | None = None) -> bytes | None:
        start, end = self.span(name)
        return None if start < 0 else self._data[start:end]

    def has(self, name: str) -> bool:
        return name in self._p.index and self.span(name)[0] >= 0

    @property
    def alternative(self) -> str | None:
        """The top-level alternative that matched."""
        for name, i in self._p.alternatives:
            if self._spans[i][0] >= 0:
                return name
        return None


def compile_pattern(pattern: str, alternatives: tuple[str, ...] = (), *, lower: bool = False) -> Pattern:
    """An RE2 pattern (UTF-8 mode). With `lower`, it is written in lower case and runs over the text with
    its ASCII letters lower-cased (same length, same offsets): no `(?i)`, whose Unicode case folding
    makes the automaton several times larger; groups are still read from the original text."""
    return Pattern(pattern, alternatives, lower)


class Doc:
    """A text to scan: its UTF-8 bytes, and helpers to read them back as text."""

    __slots__ = ("text", "data", "ascii", "_lower")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        self.data = text.encode("ascii") if self.ascii else text.encode("utf-8", "surrogatepass")
        self._lower: bytes | None = None

    @property
    def lower(self) -> bytes:
        """The bytes with ASCII letters lower-cased (offsets unchanged)."""
        if self._lower is None:
            self._lower = self.data.lower()
        return self._lower

    def __len__(self) -> int:
        return len(self.data)

    def str(self, start: int, end: int) -> str:
        return self.data[max(0, start) : end].decode("utf-8", "ignore")

    def finditer(self, pattern: Pattern, start: int = 0, end: int | None = None) -> Iterator[Match]:
        data = self.data
        scanned = self.lower if pattern.lower else data
        for spans in pattern.spans(scanned, start, len(data) if end is None else end):
            yield Match(spans, pattern, data)

    def char_offsets(self, positions: Iterable[int]) -> dict[int, int]:
        """Character offsets of byte offsets, in one pass over the sorted offsets (linear)."""
        if self.ascii:
            return {p: p for p in positions}
        out: dict[int, int] = {}
        data, chars, prev = self.data, 0, 0
        for pos in sorted(set(positions)):
            snapped = pos
            while snapped < len(data) and (data[snapped] & 0xC0) == 0x80:  # inside a character: move past it
                snapped += 1
            chars += len(data[prev:snapped].decode("utf-8", "ignore"))
            prev = snapped
            out[pos] = chars
        return out


# Bytes that end a word for the purpose of the Python-side checks below.
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def is_word_byte(b: int) -> bool:
    return b in _WORD or b >= 0x80


def prev_word(doc: Doc, pos: int, limit: int = 40) -> str:
    """The word just before byte `pos` (skipping spaces), lower-cased; "" at a clause start."""
    data, i = doc.data, pos
    lo = max(0, pos - limit)
    while i > lo and data[i - 1] in b" \t":
        i -= 1
    j = i
    while j > lo and (is_word_byte(data[j - 1]) or data[j - 1] in b"'-"):
        j -= 1
    return doc.str(j, i).lower()


def next_word(doc: Doc, pos: int, limit: int = 40) -> tuple[str, int]:
    """The word just after byte `pos` (skipping spaces), lower-cased, and where it starts; ("", pos)
    when punctuation or the end of the text comes first."""
    data, n = doc.data, len(doc.data)
    i = pos
    hi = min(n, pos + limit)
    while i < hi and data[i] in b" \t":
        i += 1
    j = i
    while j < hi and (is_word_byte(data[j]) or data[j] in b"'-"):
        j += 1
    return doc.str(i, j).lower(), i
