"""A shell command read the way the shell will run it: the programs it starts, with their words.

Why: a pattern over the command text is fooled by spelling (`r\\m`, `r''m`, `rm${IFS}-rf`,
`$'\\x72m'`, `sudo sh -c '...'`, `echo cm0g... | base64 -d | sh`). Here the text goes through
three stages, each bounded in size, depth and work (the caps below); `read_shell` runs them.

1. `expand` rewrites, in one linear pass, what bashlex does not understand: line continuations
   are joined, `$IFS`/`${IFS...}` become a space, `$'..'` (ANSI-C) becomes a plain quoted string,
   variables assigned a literal earlier in the text are substituted (`x=rm; $x -rf /`), unset
   positional parameters glued to other text become empty (`$IFS$9`), comments are dropped and
   here-documents are lifted out (bashlex mishandles quoted delimiters).
2. `commands` parses with bashlex and walks its tree into `Command`s (pipelines, lists, compound
   commands, functions, command and process substitutions, whose output is computed when the
   text alone decides it: `$(echo rm)`, `$(echo cm0g.. | base64 -d)`). Where bashlex rejects valid
   syntax (`[[ ]]`, `case`, `$((..))`, `time`, arrays...), hangs (`x'${'`), or would be slow (long
   texts), a fallback tokenizer reads the text instead: quotes and substitutions as the shell
   reads them, then a split at every operator, reserved words dropped. It can see more commands
   than the shell runs, never fewer (the test suite runs the whole corpus through it).
   Unbalanced quotes, parentheses or backticks are a ShellSyntaxError ("unparseable").
3. `_Reader.unwrap` follows wrappers to the program that really runs: sudo, doas, env, nice,
   nohup, timeout, time, stdbuf, ionice, chroot, exec, command, builtin, busybox, setsid, flock,
   watch, xargs, su, ssh, kubectl/docker exec, find -exec; `sh -c`, eval, trap and alias texts
   are read again (recursively); a shell or interpreter fed from a pipe, a here-doc, a file
   written earlier in the same text (`curl -o i.sh ..; bash i.sh`) or a process substitution
   reads that text when it is known, and is marked opaque (remote or dynamic code) when not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import bashlex

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


_IFS = re.compile(r"\$IFS(?![A-Za-z0-9_])|\$\{IFS[^}]*\}")
_VAR = re.compile(r"\$(?:\{(?P<b>[A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}|(?P<p>[A-Za-z_][A-Za-z0-9_]*|[0-9]))")
_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.S)
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
_HEREDOC = re.compile(r"<<(?!<)(-?)[ \t]*((?:'[^'\n]*'|\"[^\"\n]*\"|\\.|[^\s;&|()<>'\"\\])+)")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
_PLAIN = re.compile(r"[^\s'\"\\$`()#<;&|]+")
_LITERAL_PIECE = re.compile(r"'([^']*)'|\"((?:[^\"\\$`]|\\.)*)\"|\\(.)|([^\s'\"\\$`;&|()<>]+)", re.S)
_SEPARATORS = " \t\n;&|()<>"
_KEEP_START = frozenset(
    "then do else elif if while until export local declare readonly typeset time ! {".split()
)
HEREDOC_MARK = "__gate_heredoc_{}__"


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


# --- stage 2: bashlex's tree, or the fallback tokenizer, into Commands ----------------------------

_OPERATOR = re.compile(r";;&|;;|;&|\|\||&&|\|&|[;&|()\n]")
_REDIRECT = re.compile(r"[0-9]*(?:<<<|&>>|&>|>>|>\||>&|<&|<>|>|<)")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])")
_WORD_CHARS = re.compile(r"[^\s;&|()<>'\"\\`$]+")
_CHUNKS = re.compile(r"[^\s;&|()<>]+")


def _unclosed_brace(text: str) -> bool:
    """bashlex 0.18 loops forever on a `${` with no `}` after it in its word (even quoted: `x'${'`).
    Chunks between blanks and operators are never longer than bashlex's words, so this is safe."""
    return "${" in text and any(c.rfind("${") > c.rfind("}") for c in _CHUNKS.findall(text) if "${" in c)


_BRACES = re.compile(r"(?<!\$)\{([^{}]*,[^{}]*)\}")
_RESERVED = frozenset("if then else elif fi do done while until coproc ! { } function esac".split())
_HEADERS = {"for", "select", "case"}  # their words up to `;`/newline (case: `in`) are no command
MAX_BRACE_WORDS = 64


def program_name(text: str) -> str:
    """`/usr/bin/rm`, `\\rm` and `RM` all name rm."""
    return text.rstrip("/").rsplit("/", 1)[-1].lstrip("\\").lower() if text.strip("/") else text


def describe(cmd: Command) -> str:
    return " ".join(w.text for w in cmd.words[:3])[:80] or "a compound command"


def brace_expand(text: str) -> list[str]:
    """`{-rf,/}` as the shell expands it (bounded); JSON-like text is left to whoever reads it."""
    out: list[str] = []
    todo = [text]
    while todo and len(out) + len(todo) <= MAX_BRACE_WORDS:
        word = todo.pop(0)
        m = _BRACES.search(word)
        if m is None:
            out.append(word)
        else:
            todo.extend(word[: m.start()] + alt + word[m.end() :] for alt in m.group(1).split(","))
    return out + todo


def _split_substitution(value: str, quoted: bool) -> list[Word]:
    value = value.rstrip("\n")
    return [Word(value, quoted=True)] if quoted else [Word(v) for v in value.split()]


def _pipeline_value(cmds: list[Command]) -> str | None:
    """What a `$( ... )` prints when it is one pipeline of commands whose output we can compute."""
    if not cmds:
        return ""
    chain, cmd = 1, cmds[-1]
    while cmd.upstream is not None:
        chain, cmd = chain + 1, cmd.upstream
    return output(cmds[-1]) if chain == len(cmds) else None


def stdin_of(cmd: Command, hops: int = 0) -> Word | None:
    """What a command reads: a here-doc or here-string, a file, or its pipe's (maybe known) text."""
    for op, word in reversed(cmd.redirects):
        if op == "<<<":
            return word
        if op == "<":
            return Word(word.text, "file")
    up = cmd.upstream
    if up is None:
        return None
    files = [w for w in up.words[1:] if not w.text.startswith("-")]
    if up.words and program_name(up.words[0].text) == "cat" and files and not any(w.dynamic for w in files):
        return Word(" ".join(w.text for w in files), "file")  # `cat x.sql | psql` reads a file
    text = output(up, hops + 1) if hops < 32 else None
    return Word(text) if text is not None else Word(describe(up), "subst")


def _printf(args: list[str]) -> str:
    fmt, values, out = decode_escapes(args[0]), args[1:], []
    spec = re.compile(r"%%|%[-+ #0-9.]*([sbdciouxXfgeEq])")
    while True:

        def fill(m: re.Match[str]) -> str:
            if m.group(0) == "%%":
                return "%"
            value = values.pop(0) if values else ""
            return decode_escapes(value) if m.group(1) == "b" else value

        out.append(spec.sub(fill, fmt))
        if not values or spec.search(fmt) is None or sum(map(len, out)) > MAX_EXPANSION:
            return "".join(out)


def _decoded(prog: str, args: list[str], data: str) -> str | None:
    import base64
    import binascii

    try:
        if prog in ("base64", "base32") or (prog == "openssl" and {"-d", "base64"} <= set(args) | {"base64"}):
            raw = re.sub(r"\s", "", data)
            raw += "=" * (-len(raw) % (8 if prog == "base32" else 4))
            blob = base64.b32decode(raw) if prog == "base32" else base64.b64decode(raw)
        elif prog == "xxd":
            blob = binascii.unhexlify(re.sub(r"\s", "", data))
        else:  # rev
            return "\n".join(line[::-1] for line in data.split("\n"))
    except (ValueError, binascii.Error):
        return None
    return blob.decode("utf-8", errors="replace")


def output(cmd: Command, hops: int = 0) -> str | None:
    """The text a command prints, when the command text alone decides it (echo, printf, cat of a
    here-doc, base64 -d of such text...); None when it depends on the world (files, network)."""
    if not cmd.words or any(w.dynamic for w in cmd.words):
        return None
    prog, args = program_name(cmd.words[0].text), [w.text for w in cmd.words[1:]]
    if prog == "echo":
        flags = set()
        while args and re.fullmatch(r"-[neE]+", args[0]):
            flags |= set(args.pop(0)[1:])
        text = " ".join(args)
        return (decode_escapes(text, octal_needs_zero=True) if "e" in flags else text) + (
            "" if "n" in flags else "\n"
        )
    if prog == "printf":
        return _printf(args) if args else None
    decoding = {"-d", "--decode", "-D", "-r"} & set(args) or prog == "rev"
    if prog in ("cat", "tee") or (decoding and prog in ("base64", "base32", "openssl", "xxd", "rev")):
        if prog == "cat" and any(not a.startswith("-") for a in args):
            return None  # cat of a file
        fed = stdin_of(cmd, hops)
        if fed is None or fed.dynamic:
            return None
        return fed.text if prog in ("cat", "tee") else _decoded(prog, args, fed.text)
    return None


class _Lexer:
    """The fallback tokenizer: quotes, escapes and substitutions as the shell reads them, then a
    split at every operator. Reserved words are dropped, so `[[ .. ]]`, `case` patterns or `time`
    leave extra words or commands behind: the reading is stricter than the shell's, never looser."""

    def __init__(self, text: str, heredocs: dict[str, tuple[str, bool]], depth: int) -> None:
        self.text, self.heredocs, self.depth = text, heredocs, depth
        self.found: list[Command] = []  # commands met inside substitutions

    def heredoc(self, mark: str) -> Word:
        """A lifted here-document's body; an unquoted one runs the $( ) and backticks inside it."""
        body, quoted = self.heredocs[mark]
        if not quoted:
            lexer = _Lexer(body, self.heredocs, self.depth)
            lexer.double_quoted(0, stop=False)
            self.found.extend(lexer.found)
        return Word(body, quoted=True)

    def substitute(self, content: str) -> list[Command]:
        cmds = commands(content, self.heredocs, self.depth + 1, use_bashlex=False)
        self.found.extend(cmds)
        return cmds

    def closing(self, i: int, opening: str, closing: str) -> int:
        """The index after the `closing` that balances an `opening` just before i."""
        text, depth = self.text, 1
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c in "'\"`":
                end = text.find(c, i + 1) if c == "'" else self._quote_end(i + 1, c)
                if end < 0:
                    break
                i = end + 1
                continue
            depth += (c == opening) - (c == closing)
            i += 1
            if depth == 0:
                return i
        raise ShellSyntaxError(f"unbalanced {opening}{closing}")

    def _quote_end(self, i: int, quote: str) -> int:
        while i < len(self.text):
            if self.text[i] == "\\":
                i += 2
            elif self.text[i] == quote:
                return i
            else:
                i += 1
        return -1

    def dollar(self, i: int, quoted: bool) -> tuple[str, str | None, int, list[Command] | None]:
        """A `$...` or backtick at i: (source text, dynamic kind, end, its commands if any)."""
        text = self.text
        if text.startswith("$((", i):  # arithmetic: only the substitutions inside run anything
            end = self.closing(i + 2, "(", ")")
            arithmetic = _Lexer(text[i + 3 : end - 2], self.heredocs, self.depth)
            arithmetic.double_quoted(0, stop=False)
            self.found.extend(arithmetic.found)
            return text[i:end], "subst" if arithmetic.found else "var", end, None
        if text.startswith("$(", i) or text[i] == "`":
            end = self.closing(i + 2, "(", ")") if text[i] == "$" else self._quote_end(i + 1, "`") + 1
            if end <= 0:
                raise ShellSyntaxError("unbalanced backtick")
            body = text[i + 1 : end - 1]
            inner = body[1:] if text[i] == "$" else re.sub(r"\\([`\\$])", r"\1", body)
            return text[i:end], "subst", end, self.substitute(inner)
        if text.startswith("${", i):
            end = self.closing(i + 2, "{", "}")
            braced = _Lexer(text[i + 2 : end - 1], self.heredocs, self.depth)
            braced.double_quoted(0, stop=False)
            self.found.extend(braced.found)
            return text[i:end], "var", end, None
        m = _DOLLAR.match(text, i)
        return (m.group(0), "var", m.end(), None) if m else ("$", None, i + 1, None)

    def double_quoted(self, i: int, stop: bool = True) -> tuple[str, str | None, int, list[Command] | None]:
        """The inside of "..." from i (or a whole unquoted here-doc body when stop is False):
        (text, dynamic kind, end, the commands of its substitution when it is only that)."""
        text, parts, dynamic, start = self.text, list[str](), None, i
        only: list[Command] | None = None
        while i < len(text):
            c = text[i]
            if c == '"' and stop:
                return "".join(parts), dynamic, i + 1, only if len(parts) == 1 else None
            if c == "\\":
                nxt = text[i + 1 : i + 2]
                parts.append(nxt if nxt in '$`"\\\n' else c + nxt)
                i += 2
            elif c in "$`":
                src, kind, i, inner = self.dollar(i, quoted=True)
                parts.append(src)
                dynamic, only = dynamic or kind, inner if i - len(src) == start else None
            else:
                j = i + 1
                while j < len(text) and text[j] not in '"\\$`':
                    j += 1
                parts.append(text[i:j])
                i = j
        if stop:
            raise ShellSyntaxError("unbalanced double quote")
        return "".join(parts), dynamic, i, None

    def word(self, i: int) -> tuple[list[Word], int]:
        text, parts, dynamic, quoted = self.text, [], None, False
        start, whole, whole_src = i, None, ""  # whole: the commands of a word that is one $( )
        while i < len(text) and text[i] not in " \t\n;&|()<>":
            c, piece = text[i], i
            if c == "\\":
                parts.append(text[i + 1 : i + 2])
                i, quoted = i + 2, True
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise ShellSyntaxError("unbalanced single quote")
                parts.append(text[i + 1 : end])
                i, quoted = end + 1, True
            elif c == '"':
                s, kind, i, only = self.double_quoted(i + 1)
                parts.append(s)
                quoted, dynamic = True, dynamic or kind
                whole, whole_src = only, text[piece:i]
            elif c in "$`":
                src, kind, i, whole = self.dollar(i, quoted=False)
                parts.append(src)
                dynamic, whole_src = kind if kind == "subst" else dynamic or kind, src
            else:
                m = _WORD_CHARS.match(text, i)
                end = m.end() if m else i + 1
                parts.append(text[i:end])
                i = end
        if whole is not None and text[start:i] == whole_src and (value := _pipeline_value(whole)) is not None:
            return _split_substitution(value, quoted), i
        joined = "".join(parts)
        if dynamic is None and not quoted and "{" in joined:
            return [Word(w) for w in brace_expand(joined)], i
        return [Word(joined, dynamic, quoted)], i

    def tokens(self) -> list[tuple[str, object]]:
        text, i = self.text, 0
        out: list[tuple[str, object]] = []
        while i < len(text):
            c = text[i]
            if c in " \t":
                i += 1
            elif c == "#" and (i == 0 or text[i - 1] in " \t\n;&|()"):
                end = text.find("\n", i)
                i = len(text) if end < 0 else end
            elif text.startswith(("<(", ">("), i):
                end = self.closing(i + 2, "(", ")")
                self.substitute(text[i + 2 : end - 1])
                out.append(("word", Word(text[i:end], "subst")))
                i = end
            elif m := _REDIRECT.match(text, i):
                out.append(("redir", m.group(0).lstrip("0123456789")))
                i = m.end()
            elif m := _OPERATOR.match(text, i):
                out.append(("op", m.group(0)))
                i = m.end()
            else:
                words, i = self.word(i)
                out.extend(("word", w) for w in words)
        return out


def _split(tokens: list[tuple[str, object]], lexer: _Lexer) -> list[Command]:
    """The fallback's tokens into commands: `|` links stages, any other operator ends one."""
    cmds: list[Command] = []
    words: list[Word] = []
    redirects: list[tuple[str, Word]] = []
    pipeline: list[Command] = []
    functions: list[tuple[str, int]] = []  # open function bodies: (name, brace depth)
    braces, pending, prev = 0, "", None
    k = 0

    def finish() -> Command | None:
        nonlocal words, redirects
        if not words and not redirects:
            return None
        cmd = Command(words, redirects, prev, function=functions[-1][0] if functions else None)
        words, redirects = [], []
        cmds.append(cmd)
        pipeline.append(cmd)
        return cmd

    header, pattern = False, False  # inside `for x in ...` / expecting a `case` pattern
    while k < len(tokens):
        kind, value = tokens[k]
        if pattern and (kind == "word" or value in ("(", "|", "\n")):
            # a `case` pattern up to `)` is words to match, not a command (`esac` ends the case)
            pattern = getattr(value, "text", "") != "esac"
        elif pattern and value == ")":
            pattern = False
        elif header and kind == "word" and getattr(value, "text", "") == "in" and words[:1] == [Word("case")]:
            words, header, pattern = [], False, True
        elif header and kind == "op":
            words, header = [], False
        elif kind == "word" and isinstance(value, Word):
            bare = not words and not value.dynamic and not value.quoted
            header = header or (bare and value.text in _HEADERS)
            if bare and value.text == "function" and k + 1 < len(tokens) and tokens[k + 1][0] == "word":
                pending, k = str(getattr(tokens[k + 1][1], "text", "")), k + 2
                continue
            if bare and value.text in _RESERVED:
                if value.text == "{":
                    braces += 1
                    if pending:
                        functions.append((pending, braces))
                elif value.text == "}":
                    if functions and functions[-1][1] == braces:
                        functions.pop()
                    braces -= 1
                pending = "" if value.text == "{" else pending
            else:
                words.append(value)
                pending = ""
        elif kind == "redir":
            target = tokens[k + 1][1] if k + 1 < len(tokens) and tokens[k + 1][0] == "word" else None
            if not isinstance(target, Word):
                raise ShellSyntaxError(f"redirection {value} without a target")
            if value == "<<<" and target.text in lexer.heredocs:
                target = lexer.heredoc(target.text)
            redirects.append((str(value), target))
            k += 1
        elif value == "(" and len(words) == 1 and not redirects and tokens[k + 1 : k + 2] == [("op", ")")]:
            pending, words, k = words[0].text, [], k + 1  # NAME ( ) { body }
        else:
            cmd = finish()
            pattern = value in (";;", ";&", ";;&")
            if value in ("|", "|&"):
                prev = cmd or Command([Word("( ... )", "subst")])
            else:
                if value == "&":
                    for member in pipeline:
                        member.background = True
                pipeline, prev = [], None
        k += 1
    finish()
    return cmds


class _Walker:
    """bashlex's tree into Commands, in the order they run."""

    def __init__(self, source: str, heredocs: dict[str, tuple[str, bool]], depth: int) -> None:
        self.source, self.heredocs, self.depth = source, heredocs, depth
        self.out: list[Command] = []

    def walk(self, node: bashlex.ast.node, fn: str | None = None, bg: bool = False) -> Command | None:
        """Walks node; returns its last Command when node is one command or one simple pipeline."""
        kind = node.kind
        if kind == "command":
            return self.command(node, fn, bg, None)
        if kind == "pipeline":
            prev: Command | None = None
            simple = True
            for stage in (p for p in node.parts if p.kind not in ("pipe", "reservedword")):
                if stage.kind == "command":
                    prev = self.command(stage, fn, bg, prev)
                else:
                    self.walk(stage, fn, bg)
                    prev, simple = Command([Word("( ... )", "subst")], function=fn, background=bg), False
            return prev if simple else None
        if kind == "list":
            parts, last, count = node.parts, None, 0
            for k, part in enumerate(parts):
                if part.kind != "operator":
                    amp = k + 1 < len(parts) and getattr(parts[k + 1], "op", "") == "&"
                    last, count = self.walk(part, fn, bg or amp), count + 1
            return last if count == 1 else None
        if kind == "function":
            self.walk(node.body, node.name.word, bg)
            return None
        children: list[bashlex.ast.node] = []
        if kind == "compound":
            children = [*node.list, *node.redirects]
        elif kind in ("if", "for", "while", "until", "word", "assignment"):
            children = list(node.parts)
        elif kind in ("commandsubstitution", "processsubstitution"):
            children = [node.command]
        elif kind == "redirect" and isinstance(node.output, bashlex.ast.node):
            children = [node.output]
        for child in children:
            self.walk(child, fn, bg)
        return None

    def command(self, node: bashlex.ast.node, fn: str | None, bg: bool, upstream: Command | None) -> Command:
        words: list[Word] = []
        redirects: list[tuple[str, Word]] = []
        for part in node.parts:
            if part.kind == "assignment" and not words:
                self.walk(part, fn, bg)
            elif part.kind in ("word", "assignment"):
                words.extend(self.word(part, fn, bg))
            elif part.kind == "redirect" and isinstance(part.output, bashlex.ast.node):
                target = self.word(part.output, fn, bg)
                word = Word(
                    " ".join(w.text for w in target), next((w.dynamic for w in target if w.dynamic), None)
                )
                if part.type == "<<<" and word.text in self.heredocs:
                    lexer = _Lexer("", self.heredocs, self.depth)
                    word = lexer.heredoc(word.text)
                    self.out.extend(lexer.found)
                redirects.append((part.type, word))
        cmd = Command(words, redirects, upstream, bg, fn)
        self.out.append(cmd)
        return cmd

    def word(self, node: bashlex.ast.node, fn: str | None, bg: bool) -> list[Word]:
        raw = self.source[node.pos[0] : node.pos[1]]
        quoted = any(q in raw for q in "'\"\\")
        dynamic, last = None, None
        for part in node.parts:
            if part.kind in ("commandsubstitution", "processsubstitution"):
                last = self.walk(part.command, fn, bg)
                dynamic = "subst"
            elif part.kind == "parameter":
                dynamic = dynamic or "var"
                if "`" in str(part.value):  # bashlex does not parse `${x:-`cmd`}`: we do
                    lexer = _Lexer(str(part.value), self.heredocs, self.depth)
                    lexer.double_quoted(0, stop=False)
                    self.out.extend(lexer.found)
        subs = [p for p in node.parts if p.kind == "commandsubstitution"]
        if len(node.parts) == 1 and subs and raw.strip('"') == self.source[subs[0].pos[0] : subs[0].pos[1]]:
            value = (
                output(last) if last is not None and subs[0].command.kind in ("command", "pipeline") else None
            )
            if value is not None:
                return _split_substitution(value, raw.startswith('"'))
        if quoted and "$(" not in raw and "`" not in raw:
            # bashlex 0.18 removes quotes wrongly in some words (`'r'm''` -> r'm'): do it ourselves
            return _Lexer(raw, {}, self.depth).word(0)[0]
        if dynamic is None and not quoted and "{" in node.word:
            return [Word(w) for w in brace_expand(node.word)]
        return [Word(node.word, dynamic, quoted)]


def commands(
    text: str, heredocs: dict[str, tuple[str, bool]], depth: int = 0, use_bashlex: bool = True
) -> list[Command]:
    """Stage 2 on expanded text: bashlex first; the fallback tokenizer when bashlex gives up (and
    for what the fallback meets inside: bashlex costs ~0.4 ms a call, even on `$(ls)`)."""
    if depth > MAX_DEPTH:
        raise ShellSyntaxError(f"nested deeper than {MAX_DEPTH} levels")
    if not text.strip():
        return []
    words = len(text.split())
    if words > MAX_WORDS:
        raise ShellSyntaxError(f"more than {MAX_WORDS} words")
    try:
        if words > BASHLEX_MAX_WORDS or not use_bashlex or _unclosed_brace(text):
            raise ShellSyntaxError("read by the fallback tokenizer")
        trees = bashlex.parse(text)
    except Exception:  # bashlex rejects valid syntax in many ways; read it our way
        lexer = _Lexer(text, heredocs, depth)
        cmds = _split(lexer.tokens(), lexer)
        return lexer.found + cmds
    walker = _Walker(text, heredocs, depth)
    for tree in trees:
        walker.walk(tree)
    return walker.out


# --- stage 3: wrappers unwrapped to the program that really runs ------------------------------------

MAX_WORK = 4 * MAX_CHARS  # all the text parsed for one command, nested scripts included
_GLOB = re.compile(r"[*?]|\[[^\]]+\]")  # `[` and `[[` alone are test commands, not patterns
_Emit = Callable[..., None]  # records an Invocation for the command being unwrapped

# program -> (its options that take a value, operands it takes before the command it runs)
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    name: (frozenset(opts.split()), skip)
    for name, opts, skip in [
        (
            "sudo",
            "-u -g -h -p -C -U -r -t -T -D --user --group --host --prompt --close-from "
            "--other-user --role --type --command-timeout --chdir",
            0,
        ),
        ("doas", "-u -C", 0),
        ("nice", "-n --adjustment", 0),
        ("nohup", "", 0),
        ("exec", "-a", 0),
        ("timeout", "-k -s --kill-after --signal", 1),
        ("stdbuf", "-i -o -e --input --output --error", 0),
        ("ionice", "-c -n --class --classdata", 0),
        ("chroot", "--userspec --groups", 1),
        ("command", "", 0),
        ("builtin", "", 0),
        ("busybox", "", 0),
        ("setsid", "", 0),
        ("time", "-f --format -o --output", 0),
        ("taskset", "", 1),
        ("unbuffer", "", 0),
        ("strace", "-o -e -p -s -u -E -O -S -a -b -I -P -X", 0),
        ("ltrace", "-o -e -p -s -u -n -a", 0),
        ("env", "-u --unset -C --chdir -S --split-string", 0),
        ("flock", "-w -E --timeout", 1),
        (
            "xargs",
            "-I -n -P -L -d -E -s -a --max-args --max-procs --delimiter --arg-file --replace "
            "--max-lines --eof --max-chars",
            0,
        ),
        ("watch", "-n --interval", 0),
        ("nsenter", "-t --target -S -G --setuid --setgid", 0),
        ("ssh", "-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w -B", 1),
        ("su", "-c --command -s --shell -g -G -w", 0),
        ("runuser", "-c --command -u -g -G -s --shell", 0),
    ]
}
SHELLS = frozenset("sh bash zsh dash ksh mksh ash yash posh fish rbash".split())
# interpreter family -> the options that take program text
_CODE_FLAGS = {
    "python": {"-c"},
    "pypy": {"-c"},
    "perl": {"-e", "-E"},
    "ruby": {"-e"},
    "node": {"-e", "--eval", "-p", "--print"},
    "nodejs": {"-e", "--eval", "-p", "--print"},
    "php": {"-r"},
}
_VALUE_FLAGS = {"-W", "-X", "-r", "--require", "--import", "-I"}


def interpreter(prog: str) -> str | None:
    """The interpreter family of a program name (`python3.11` -> python), or None."""
    family = re.sub(r"[0-9.]+$", "", prog)
    return family if family in _CODE_FLAGS else None


@dataclass
class Invocation:
    """A program that will run, after wrappers are unwrapped, with what feeds it."""

    argv: list[Word]
    redirects: list[tuple[str, Word]] = field(default_factory=list)
    stdin: Word | None = None
    via: tuple[str, ...] = ()  # wrappers and shells it was found inside, outermost first
    background: bool = False
    function: str | None = None
    opaque: tuple[str, str] | None = None  # (kind, why) when what it runs is not in the text
    code: str | None = None  # program text an interpreter runs (python -c, perl -e, its stdin)
    # files this command line writes (`> f`, tee, curl -o, cp): path -> content, or opaque Word
    files: dict[str, Word] = field(default_factory=dict)

    @property
    def program(self) -> str:
        return program_name(self.argv[0].text) if self.argv else ""


@dataclass
class ParsedShell:
    invocations: list[Invocation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why some part could not be read


def options(
    args: list[Word], takes_value: frozenset[str] | set[str]
) -> tuple[list[Word], set[str], dict[str, str]]:
    """Leading options of a command: (the words after them, the flags seen, option values).
    Short flags may be clustered (`-rfv`) and a value glued (`-oL`)."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    k = 0
    while k < len(args):
        a = args[k].text
        if a == "--":
            k += 1
            break
        if args[k].dynamic or not a.startswith("-") or a == "-":
            break
        k += 1
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            flags.add(name)
            if eq or name in takes_value:
                values[name] = value if eq else (args[k].text if k < len(args) else "")
                k += 0 if eq else 1
            continue
        for j, ch in enumerate(a[1:]):
            flags.add("-" + ch)
            if "-" + ch in takes_value:
                glued = a[j + 2 :]
                values["-" + ch] = glued or (args[k].text if k < len(args) else "")
                k += 0 if glued else 1
                break
    return args[k:], flags, values


def _path(text: str) -> str:
    return text[2:] if text.startswith("./") else text


def _download_targets(prog: str, texts: list[str]) -> list[str]:
    """Where `curl -o F` / `wget -O F` save what they fetch."""
    letter, long = ("o", "--output") if prog == "curl" else ("O", "--output-document")
    out = []
    for k, t in enumerate(texts):
        nxt = texts[k + 1] if k + 1 < len(texts) else ""
        if t == long or (t.startswith("-") and not t.startswith("--") and t.endswith(letter)):
            out.append(nxt)
        elif t.startswith(long + "="):
            out.append(t.split("=", 1)[1])
        elif t.startswith("-" + letter) and len(t) > 2:
            out.append(t[2:])
    return [o for o in out if o and o != "-"]


class _Reader:
    def __init__(self) -> None:
        self.parsed = ParsedShell()
        self.work = 0
        self.files: dict[str, Word] = {}  # what earlier commands of this text wrote, by path

    def record_writes(self, argv: list[Word], cmd: Command, stdin: Word | None) -> None:
        """Two-step payloads (`... > x.sh; sh x.sh`, `curl -o i.sh ..; bash i.sh`) are followed."""
        for op, target in cmd.redirects:
            if op in (">", ">>", ">|", "&>", "&>>") and not target.dynamic and target.text != "/dev/null":
                text = output(cmd)
                self.files[_path(target.text)] = (
                    Word(text) if text is not None else Word(describe(cmd), "subst")
                )
        prog, texts = (program_name(argv[0].text) if argv else ""), [w.text for w in argv]
        if prog in ("curl", "wget"):
            for saved in _download_targets(prog, texts[1:]):
                self.files[_path(saved)] = Word(" ".join(texts[:4]), "subst")
        elif prog == "tee" and stdin is not None:
            for target in (w for w in argv[1:] if not w.text.startswith("-") and not w.dynamic):
                self.files[_path(target.text)] = stdin
        elif prog in ("cp", "mv") and len(argv) == 3 and _path(texts[1]) in self.files:
            self.files[_path(texts[2])] = self.files[_path(texts[1])]

    def run_script(
        self,
        name: str,
        source: Word | None,
        words: list[Word],
        via: tuple[str, ...],
        depth: int,
        emit: _Emit,
        how: str,
        code: bool = False,
    ) -> None:
        """A shell (or, with code=True, an interpreter) runs `source`: literal text, a file (maybe
        written earlier in this command), or something opaque."""
        if source is not None and source.dynamic == "file":
            source = self.files.get(_path(source.text), source)
        if source is None or source.dynamic == "file":
            return emit(words)  # an interactive shell or a script file we cannot see
        if source.dynamic:
            kind = "dynamic_command" if source.dynamic == "var" else "runs_remote_code"
            return emit(words, opaque=(kind, f"{name} runs what `{source.text}` produces"))
        if code:
            return emit(words, code=source.text)
        return self.read(source.text, (*via, f"{name} {how}"), depth + 1)

    def read(self, text: str, via: tuple[str, ...], depth: int, positional: list[str] | None = None) -> None:
        where = " > ".join(via) or "command"
        self.work += len(text)
        if len(text) > MAX_CHARS or self.work > MAX_WORK:
            self.parsed.problems.append(f"{where}: too long ({len(text)} characters, cap {MAX_CHARS})")
            return
        if (
            "<<" not in text and len(text.split()) > MAX_WORDS
        ):  # cheap early exit (here-doc bodies do not count)
            self.parsed.problems.append(f"{where}: too long (more than {MAX_WORDS} words)")
            return
        try:
            if depth > MAX_DEPTH:
                raise ShellSyntaxError(f"nested deeper than {MAX_DEPTH} levels")
            expanded, heredocs = expand(text, positional)
            for cmd in commands(expanded, heredocs, depth):
                self.unwrap(cmd, via, depth)
        except ShellSyntaxError as e:
            self.parsed.problems.append(f"{where}: {e}")
        except RecursionError:
            self.parsed.problems.append(f"{where}: nested too deeply to read")

    def unwrap(self, cmd: Command, via: tuple[str, ...], depth: int) -> None:
        words, stdin = list(cmd.words), stdin_of(cmd)
        if stdin is not None and stdin.dynamic == "file":
            stdin = self.files.get(_path(stdin.text), stdin)

        def emit(argv: list[Word], **extra: object) -> None:
            inv = Invocation(argv, cmd.redirects, stdin, via, cmd.background, cmd.function, files=self.files)
            for key, value in extra.items():
                setattr(inv, key, value)
            self.parsed.invocations.append(inv)
            self.record_writes(argv, cmd, stdin)

        for _ in range(64):
            if not words:
                return emit([]) if cmd.redirects else None
            head = words[0]
            if head.dynamic:
                return emit(words)
            if not head.quoted and _GLOB.search(head.text):
                return emit([Word(head.text, "glob"), *words[1:]])
            prog, args = program_name(head.text), words[1:]
            if "/" in head.text and _path(head.text) in self.files:  # `./install.sh` written just before
                return self.run_script(prog, Word(head.text, "file"), words, via, depth, emit, "(file)")
            if prog in SHELLS:
                return self.shell(words, stdin, via, depth, emit)
            if prog == "trap" and args and not args[0].text.startswith("-"):
                return self.read(args[0].text, (*via, "trap"), depth + 1)  # runs on a signal or exit
            if prog == "alias":  # stricter than the shell: an alias's text is read as if it ran
                for value in (w.text.split("=", 1)[1] for w in args if "=" in w.text):
                    self.read(value, (*via, "alias"), depth + 1)
                return emit(words)
            if prog == "eval":
                if any(w.dynamic == "subst" for w in args):
                    return emit(words, opaque=("runs_remote_code", "eval runs the output of a command"))
                return self.read(" ".join(w.text for w in args), (*via, "eval"), depth + 1)
            if prog in ("source", ".", "at", "batch"):
                _, flags, values = options(args, {"-f", "-q", "-t"})
                script = args[0] if prog in ("source", ".") and args else None
                script = Word(values["-f"], "file") if "-f" in values else script
                source = stdin if script is None else script if script.dynamic else Word(script.text, "file")
                return self.run_script(prog, source, words, via, depth, emit, "(script)")
            if interpreter(prog):
                return self.interpreter(words, stdin, via, emit)
            if prog == "find":
                emit(words)
                for segment in _exec_segments(args):
                    self.unwrap(Command(segment, background=cmd.background), (*via, "find -exec"), depth)
                return None
            inner: list[Word] | str | None = None
            if prog in ("kubectl", "oc", "docker", "podman"):
                inner = _container_exec(prog, args)
            if inner is None and prog not in _WRAPPERS:
                return emit(words)
            inner = inner if inner is not None else _wrapped(prog, args)
            if inner is None and _reads_commands(prog, args):  # `ssh host <<< ...`, `sudo -s <<< ...`
                return self.run_script(prog, stdin, words, via, depth, emit, "<stdin")
            if inner is None:
                return emit(words)
            if isinstance(inner, str):
                return self.read(inner, (*via, prog), depth + 1)
            via, words = (*via, prog), inner
        return emit(words)

    def shell(
        self, words: list[Word], stdin: Word | None, via: tuple[str, ...], depth: int, emit: _Emit
    ) -> None:
        args, k, command_mode, reads_stdin = words[1:], 0, False, False
        while k < len(args):
            a = args[k].text
            if a == "--":
                k += 1
                break
            if a in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
                k += 2
                continue
            if len(a) > 1 and a[0] in "-+" and not args[k].dynamic:
                command_mode |= a[0] == "-" and "c" in a and not a.startswith("--")
                reads_stdin |= a[0] == "-" and "s" in a and not a.startswith("--")
                k += 1
                continue
            reads_stdin |= a == "-"
            k += a == "-"
            break
        operands, name = args[k:], program_name(words[0].text)
        if command_mode:
            if operands and operands[0].dynamic == "subst":
                return emit(words, opaque=("runs_remote_code", f"{name} -c runs the output of a command"))
            if operands:
                return self.read(
                    operands[0].text, (*via, f"{name} -c"), depth + 1, [w.text for w in operands[1:]]
                )
            return None
        if operands and not reads_stdin and operands[0].text != "/dev/stdin":
            script = operands[0] if operands[0].dynamic else Word(operands[0].text, "file")
            return self.run_script(name, script, words, via, depth, emit, operands[0].text)
        return self.run_script(name, stdin, words, via, depth, emit, "<stdin")

    def interpreter(self, words: list[Word], stdin: Word | None, via: tuple[str, ...], emit: _Emit) -> None:
        prog = program_name(words[0].text)
        flags, args, k = _CODE_FLAGS[interpreter(prog) or ""], words[1:], 0
        code: Word | None = None
        while k < len(args) and code is None:
            a = args[k].text
            if a in flags or (prog.startswith(("python", "pypy")) and a.startswith("-c") and len(a) > 2):
                code = args[k + 1] if a in flags and k + 1 < len(args) else Word(a[2:], args[k].dynamic)
            elif a == "-m" or (not a.startswith("-") or a == "-"):
                break
            k += 2 if a in _VALUE_FLAGS else 1
        script = args[k] if code is None and k < len(args) else None
        if code is None and script is not None and script.text != "-":
            if args[k - 1 : k] == [Word("-m")]:
                return emit(words)  # a module
            code = script if script.dynamic else Word(script.text, "file")
        fed = code if code is not None else stdin
        return self.run_script(prog, fed, words, via, 0, emit, "", code=True)


def _wrapped(prog: str, args: list[Word]) -> list[Word] | str | None:
    """What a wrapper runs: words, a shell script (str), or None when it runs nothing given here."""
    if prog in ("su", "runuser", "flock"):  # their -c may follow a user or lock file operand
        texts = [w.text for w in args]
        for k, a in enumerate(texts):
            if a in ("-c", "--command") and k + 1 < len(texts):
                return texts[k + 1]
            if a.startswith("--command="):
                return a.split("=", 1)[1]
        if prog != "flock":
            return args[texts.index("--") + 1 :] if "--" in texts else None
    takes_value, skip = _WRAPPERS[prog]
    rest, flags, values = options(args, takes_value)
    if prog == "env":
        while rest and _ASSIGN.match(rest[0].text) and not rest[0].dynamic:
            rest = rest[1:]
        if split := values.get("-S") or values.get("--split-string"):
            return " ".join([split, *(w.text for w in rest)])
    if (prog == "command" and flags & {"-v", "-V"}) or (prog in ("ionice", "taskset") and "-p" in flags):
        return None
    rest = rest[skip:]
    if prog == "xargs":
        marker = values.get("-I") or values.get("--replace")
        rest = rest or [Word("echo")]
        if marker:
            return [Word(w.text, "input") if marker in w.text else w for w in rest]
        return [*rest, Word("<xargs input>", "input")]
    if prog in ("watch", "ssh") and not flags & {"-x", "--exec"}:
        return " ".join(w.text for w in rest) or None
    return rest or None


def _reads_commands(prog: str, args: list[Word]) -> bool:
    """Wrappers that, given no command, run a shell reading its commands from stdin."""
    if prog == "sudo":
        return bool({"-s", "-i", "--shell", "--login"} & options(args, _WRAPPERS["sudo"][0])[1])
    return prog in ("su", "runuser", "ssh", "doas")


def _exec_segments(args: list[Word]) -> list[list[Word]]:
    """The commands of find's -exec / -execdir / -ok / -okdir, `{}` standing for each file found."""
    segments, k = [], 0
    while k < len(args):
        if args[k].text in ("-exec", "-execdir", "-ok", "-okdir"):
            k += 1
            segment = []
            while k < len(args) and args[k].text not in (";", "+"):
                word = args[k]
                segment.append(Word(word.text, "input") if "{}" in word.text else word)
                k += 1
            segments.append(segment)
        k += 1
    return segments


def _container_exec(prog: str, args: list[Word]) -> list[Word] | None:
    """The command of `kubectl exec POD -- CMD` / `docker exec [opts] CONTAINER CMD`."""
    texts = [w.text for w in args]
    if "exec" not in texts:
        return None
    after = args[texts.index("exec") + 1 :]
    if prog in ("kubectl", "oc"):
        cut = [w.text for w in after]
        return after[cut.index("--") + 1 :] if "--" in cut else None
    rest, _, _ = options(after, frozenset("-e --env -u --user -w --workdir --env-file --detach-keys".split()))
    return rest[1:] or None


def read_shell(command: str) -> ParsedShell:
    """Every program `command` would run, wrappers unwrapped, and what could not be read."""
    reader = _Reader()
    reader.read(command, (), 0)
    return reader.parsed
