"""The fallback tokenizer of stage 2 (framework.gate.shell_parse): it reads the texts bashlex
rejects, hangs on or would be slow on, and what it meets inside their substitutions."""

from __future__ import annotations

import re

from framework.gate.shell_output import _pipeline_value, _split_substitution
from framework.gate.shell_words import Command, ShellSyntaxError, Word, count_words

_OPERATOR = re.compile(r";;&|;;|;&|\|\||&&|\|&|[;&|()\n]")
_REDIRECT = re.compile(r"[0-9]*(?:<<<|&>>|&>|>>|>\||>&|<&|<>|>|<)")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])")
_WORD_CHARS = re.compile(r"[^\s;&|()<>'\"\\`$]+")
_BRACES = re.compile(r"(?<!\$)\{([^{}]*,[^{}]*)\}")
_RESERVED = frozenset("if then else elif fi do done while until coproc ! { } function esac".split())
_HEADERS = {"for", "select", "case"}  # their words up to `;`/newline (case: `in`) are no command
MAX_BRACE_WORDS = 64


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
        # the fallback reads it too: bashlex costs ~0.4 ms a call, even on `$(ls)`
        count_words(content, self.depth + 1)
        cmds = fallback(content, self.heredocs, self.depth + 1) if content.strip() else []
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


def fallback(text: str, heredocs: dict[str, tuple[str, bool]], depth: int) -> list[Command]:
    """The fallback tokenizer's Commands for a text within the caps, those met inside it first."""
    lexer = _Lexer(text, heredocs, depth)
    cmds = _split(lexer.tokens(), lexer)
    return lexer.found + cmds
