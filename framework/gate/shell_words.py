"""What every stage of reading a shell text (framework.gate.shell) shares: the caps that bound its
work, the error for a text that cannot be read, and the Words and Commands the text is read into."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CHARS = 64 * 1024  # a longer command is "unparseable: too long" (fails closed, in O(1))
MAX_WORDS = 6000  # more words: unparseable
BASHLEX_MAX_WORDS = 500  # bashlex costs ~35 us a word: above, the (~4x faster) fallback reads it
MAX_DEPTH = 6  # nested sh -c / eval / $( ) levels
MAX_NESTING = 24  # quotes, $( ), backticks and parentheses open at once in one text
MAX_EXPANSION = 2 * MAX_CHARS  # the text after variable substitution


class ShellSyntaxError(ValueError):
    """The text is not a shell command we can read (unbalanced quotes, too long, too deep)."""


@dataclass
class Word:
    text: str
    # None when literal; else where its value comes from: "var" (a variable we do not know),
    # "subst" (output of a command), "input" (xargs / find {} items), "file", "glob".
    dynamic: str | None = None
    quoted: bool = False


@dataclass
class Command:
    """One simple command as parsed: its words (leading assignments dropped) and redirections."""

    words: list[Word]
    redirects: list[tuple[str, Word]] = field(default_factory=list)  # ("<<<" carries here-docs)
    upstream: Command | None = None  # the previous stage of its pipeline
    background: bool = False
    function: str | None = None  # the function whose body holds it


_ESCAPE = re.compile(
    r"\\(?:x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})|([0-7]{1,3})|c(.)|(.))", re.S
)
_SIMPLE_ESC = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def count_words(text: str, depth: int) -> int:
    """The words of a text about to be parsed at `depth`: a ShellSyntaxError past the caps."""
    if depth > MAX_DEPTH:
        raise ShellSyntaxError(f"nested deeper than {MAX_DEPTH} levels")
    words = len(text.split())
    if words > MAX_WORDS:
        raise ShellSyntaxError(f"more than {MAX_WORDS} words")
    return words


def program_name(text: str) -> str:
    """`/usr/bin/rm`, `\\rm` and `RM` all name rm."""
    return text.rstrip("/").rsplit("/", 1)[-1].lstrip("\\").lower() if text.strip("/") else text


def describe(cmd: Command) -> str:
    return " ".join(w.text for w in cmd.words[:3])[:80] or "a compound command"


def decode_escapes(body: str, *, octal_needs_zero: bool = False) -> str:
    """Backslash escapes as `$'..'` (and `echo -e`, `printf`) decode them."""

    def one(m: re.Match[str]) -> str:
        hexa, u4, u8, octal, ctrl, other = m.groups()
        if hexa or u4 or u8:
            code = int(hexa or u4 or u8, 16)
            return chr(code) if code <= 0x10FFFF else ""
        if octal is not None:
            if octal_needs_zero and not octal.startswith("0"):
                return m.group(0)
            return chr(int(octal, 8) & 0xFF)
        if ctrl is not None:
            return chr(ord(ctrl) & 0x1F)
        return _SIMPLE_ESC.get(other, "\\" + other)

    return _ESCAPE.sub(one, body)
