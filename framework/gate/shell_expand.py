"""Stage 1 of reading a shell text (framework.gate.shell): `expand` rewrites, in one linear pass,
what bashlex does not understand: line continuations are joined, `$IFS`/`${IFS...}` become a
space, `$'..'` (ANSI-C) becomes a plain quoted string, variables assigned a literal earlier in the
text are substituted (`x=rm; $x -rf /`), unset positional parameters glued to other text become
empty (`$IFS$9`), comments are dropped and here-documents are lifted out (bashlex mishandles
quoted delimiters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from framework.gate.shell_words import MAX_EXPANSION, MAX_NESTING, ShellSyntaxError, decode_escapes

_IFS = re.compile(r"\$IFS(?![A-Za-z0-9_])|\$\{IFS[^}]*\}")
_VAR = re.compile(r"\$(?:\{(?P<b>[A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}|(?P<p>[A-Za-z_][A-Za-z0-9_]*|[0-9]))")
_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.S)
_HEREDOC = re.compile(r"<<(?!<)(-?)[ \t]*((?:'[^'\n]*'|\"[^\"\n]*\"|\\.|[^\s;&|()<>'\"\\])+)")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
_PLAIN = re.compile(r"[^\s'\"\\$`()#<;&|]+")
_LITERAL_PIECE = re.compile(r"'([^']*)'|\"((?:[^\"\\$`]|\\.)*)\"|\\(.)|([^\s'\"\\$`;&|()<>]+)", re.S)
_SEPARATORS = " \t\n;&|()<>"
_KEEP_START = frozenset(
    "then do else elif if while until export local declare readonly typeset time ! {".split()
)
HEREDOC_MARK = "__gate_heredoc_{}__"


def single_quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _literal_value(text: str, i: int, env: dict[str, str]) -> str | None:
    """The value of the word starting at i if it is literal (quotes, escapes, known variables)."""
    out, n = [], len(text)
    while i < n and text[i] not in _SEPARATORS:
        var = _VAR.match(text, i)
        if var and (var.group("b") or var.group("p")) in env:
            out.append(env[var.group("b") or var.group("p") or ""])
            i = var.end()
            continue
        piece = _LITERAL_PIECE.match(text, i)
        if piece is None:
            return None  # $(...), unknown $VAR, backticks, arrays: not a literal
        sq, dq, esc, plain = piece.groups()
        if dq is not None and "\\" in dq:
            dq = re.sub(r"\\([\\$`\"])", r"\1", dq)
        out.append(next(p for p in (sq, dq, esc, plain) if p is not None))
        i = piece.end()
    return "".join(out)


@dataclass
class _Frame:
    mode: str
    parens: int = 0


class _Expander:
    """Stage 1: one linear pass over the text (see the module docstring)."""

    def __init__(self, text: str, positional: list[str] | None) -> None:
        self.text, self.positional = text, positional
        self.out: list[str] = []
        self.size = 0
        self.env: dict[str, str] = {}
        self.heredocs: dict[str, tuple[str, bool]] = {}  # mark -> (body, delimiter was quoted)
        self.pending: list[tuple[str, str, bool, bool]] = []  # (mark, delimiter, strip tabs, quoted)

    def emit(self, s: str) -> None:
        self.size += len(s)
        if self.size > MAX_EXPANSION:
            raise ShellSyntaxError(f"expands to more than {MAX_EXPANSION} characters")
        self.out.append(s)

    def run(self) -> str:
        text, n, i = self.text, len(self.text), 0
        # modes: U top, ( inside $( ), A inside $(( )), ` backticks, " double quotes; with a paren depth
        stack: list[_Frame] = [_Frame("U")]
        start = True  # at the start of a command (where NAME=value is an assignment)
        nest = 0  # subshell parentheses outside $( )
        while i < n:
            if len(stack) + nest + stack[-1].parens > MAX_NESTING:
                raise ShellSyntaxError(f"nested deeper than {MAX_NESTING} levels")
            mode, c = stack[-1].mode, text[i]
            at_word = i == 0 or text[i - 1] in _SEPARATORS
            if mode == '"':
                i = self._in_double(stack, i)
                continue
            if c == "\\":
                if text.startswith("\\\n", i):
                    i += 2
                    continue
                self.emit(text[i : i + 2])
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise ShellSyntaxError("unbalanced single quote")
                self.emit(text[i : end + 1])
                i, start = end + 1, False
            elif text.startswith("$'", i):
                m = _ANSI_C.match(text, i)
                if m is None:
                    raise ShellSyntaxError("unbalanced $'...' quote")
                self.emit(single_quoted(decode_escapes(m.group(1))))
                i, start = m.end(), False
            elif c == '"' or text.startswith('$"', i):
                self.emit('"')
                stack.append(_Frame('"'))
                i += 1 if c == '"' else 2
            elif c == "`":
                if mode == "`":
                    stack.pop()
                else:
                    stack.append(_Frame("`"))
                self.emit(c)
                i += 1
            elif text.startswith("$(", i):
                arithmetic = text.startswith("$((", i)  # its `<<` is a shift, not a here-doc
                stack.append(_Frame("A", 1) if arithmetic else _Frame("("))
                self.emit(text[i : i + 3] if arithmetic else "$(")
                i, start = i + (3 if arithmetic else 2), True
            elif c in "()" and mode in "U`":
                nest += 1 if c == "(" else -1
                self.emit(c)
                i, start = i + 1, True
            elif c in "()" and mode in "(A":
                frame = stack[-1]
                if c == "(":
                    frame.parens += 1
                elif frame.parens == 0:
                    stack.pop()
                else:
                    frame.parens -= 1
                self.emit(c)
                i += 1
            elif c == "$":
                i = self._dollar(i, quoted=False)
            elif c == "#" and at_word:
                end = text.find("\n", i)
                i = n if end < 0 else end
            elif text.startswith("<<<", i):
                self.emit("<<<")
                i += 3
            elif mode != "A" and text.startswith("<<", i) and (m := _HEREDOC.match(text, i)):
                self._heredoc(m)
                i = m.end()
            elif c == "\n":
                self.emit(c)
                i, start = self._bodies(i + 1), True
            elif c in ";&|(){}":
                self.emit(c)
                i, start = i + 1, True
            elif c in " \t":
                self.emit(c)
                i += 1
            else:
                if at_word and start and (m := _ASSIGN.match(text, i)):
                    value = _literal_value(text, m.end(), self.env)
                    if value is None:
                        self.env.pop(m.group(1), None)
                    else:
                        self.env[m.group(1)] = value
                elif at_word:
                    word = _PLAIN.match(text, i)
                    start = word is not None and word.group(0) in _KEEP_START
                m = _PLAIN.match(text, i)
                end = m.end() if m else i + 1
                self.emit(text[i:end])
                i = end
        if len(stack) > 1:
            what = "parenthesis" if stack[-1].mode in "(A" else "quote"
            raise ShellSyntaxError(f"unbalanced {what}")
        return "".join(self.out)

    def _in_double(self, stack: list[_Frame], i: int) -> int:
        text, c = self.text, self.text[i]
        if c == "\\":
            if text.startswith("\\\n", i):
                return i + 2
            self.emit(text[i : i + 2])
            return i + 2
        if c == '"':
            stack.pop()
            self.emit(c)
            return i + 1
        if text.startswith("$(", i):
            stack.append(_Frame("("))
            self.emit("$(")
            return i + 2
        if c == "`":
            stack.append(_Frame("`"))
            self.emit(c)
            return i + 1
        if c == "$":
            return self._dollar(i, quoted=True)
        j = i + 1
        while j < len(text) and text[j] not in '\\"$`':
            j += 1
        self.emit(text[i:j])
        return j

    def _dollar(self, i: int, quoted: bool) -> int:
        text = self.text
        if m := _IFS.match(text, i):
            self.emit(" ")
            return m.end()
        m = _VAR.match(text, i)
        if m is None:
            self.emit("$")
            return i + 1
        name = m.group("b") or m.group("p") or ""
        if name.isdigit():
            glued = (i > 0 and text[i - 1] not in _SEPARATORS + "\"'") or (
                m.end() < len(text) and text[m.end()] not in _SEPARATORS + "\"'"
            )  # `$IFS$9-rf`: an unset parameter used as glue; a lone `$1` stays unknown
            if self.positional is not None or (glued and name != "0"):
                args = self.positional or []
                value = args[int(name)] if int(name) < len(args) else ""
                self.emit(_quote_value(value, quoted))
                return m.end()
        elif name in self.env:
            self.emit(_quote_value(self.env[name], quoted))
            return m.end()
        self.emit(m.group(0))
        return m.end()

    def _heredoc(self, m: re.Match[str]) -> None:
        raw = m.group(2)
        delimiter = re.sub(r"\\(.)", r"\1", raw.replace("'", "").replace('"', ""))
        mark = HEREDOC_MARK.format(len(self.heredocs) + len(self.pending))
        self.pending.append((mark, delimiter, m.group(1) == "-", raw != delimiter))
        self.emit(f"<<< {mark}")

    def _bodies(self, i: int) -> int:
        """After a newline: the bodies of the here-documents opened on the line just ended."""
        text, n = self.text, len(self.text)
        for mark, delimiter, strip_tabs, quoted in self.pending:
            lines, pos = [], i
            while pos < n:
                eol = text.find("\n", pos)
                eol = n if eol < 0 else eol
                line = text[pos:eol].lstrip("\t") if strip_tabs else text[pos:eol]
                pos = eol + 1
                if line == delimiter:
                    break
                lines.append(line)
            self.heredocs[mark] = ("\n".join(lines) + ("\n" if lines else ""), quoted)
            i = min(pos, n)
        self.pending = []
        return i


def _quote_value(value: str, quoted: bool) -> str:
    """A variable's value, escaped so the parser sees it as the shell would after expansion."""
    if quoted:
        return re.sub(r'([\\"$`])', r"\\\1", value)
    return " ".join(re.sub(r"([^\w\-./:=@%+,])", r"\\\1", f) for f in value.split())


def expand(text: str, positional: list[str] | None = None) -> tuple[str, dict[str, tuple[str, bool]]]:
    """Stage 1: the text bashlex will parse, and the here-document bodies lifted out of it."""
    expander = _Expander(text, positional)
    return expander.run(), expander.heredocs
