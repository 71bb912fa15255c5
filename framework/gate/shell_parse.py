"""Stage 2 of reading a shell text (framework.gate.shell): `commands` parses with bashlex and walks
its tree into `Command`s (pipelines, lists, compound commands, functions, command and process
substitutions, whose output is computed when the text alone decides it: `$(echo rm)`,
`$(echo cm0g.. | base64 -d)`). Where bashlex rejects valid syntax (`[[ ]]`, `case`, `$((..))`,
`time`, arrays...), hangs (`x'${'`), or would be slow (long texts), a fallback tokenizer
(framework.gate.shell_lexer) reads the text instead: quotes and substitutions as the shell reads
them, then a split at every operator, reserved words dropped. It can see more commands than the
shell runs, never fewer (the test suite runs the whole corpus through it). Unbalanced quotes,
parentheses or backticks are a ShellSyntaxError ("unparseable").
"""

from __future__ import annotations

import re

import bashlex

from framework.gate.shell_lexer import _Lexer, brace_expand, fallback
from framework.gate.shell_output import _split_substitution, output
from framework.gate.shell_words import BASHLEX_MAX_WORDS, Command, ShellSyntaxError, Word, count_words

_CHUNKS = re.compile(r"[^\s;&|()<>]+")


def _unclosed_brace(text: str) -> bool:
    """bashlex 0.18 loops forever on a `${` with no `}` after it in its word (even quoted: `x'${'`).
    Chunks between blanks and operators are never longer than bashlex's words, so this is safe."""
    return "${" in text and any(c.rfind("${") > c.rfind("}") for c in _CHUNKS.findall(text) if "${" in c)


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


def commands(text: str, heredocs: dict[str, tuple[str, bool]], depth: int = 0) -> list[Command]:
    """Stage 2 on expanded text: bashlex first; the fallback tokenizer when bashlex gives up (and
    for what the fallback meets inside, see _Lexer.substitute)."""
    words = count_words(text, depth)
    if not text.strip():
        return []
    try:
        if words > BASHLEX_MAX_WORDS or _unclosed_brace(text):
            raise ShellSyntaxError("read by the fallback tokenizer")
        trees = bashlex.parse(text)
    except Exception:  # bashlex rejects valid syntax in many ways; read it our way
        return fallback(text, heredocs, depth)
    walker = _Walker(text, heredocs, depth)
    for tree in trees:
        walker.walk(tree)
    return walker.out
