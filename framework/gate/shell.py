"""A shell command read the way the shell will run it: the programs it starts, with their words.

Why: a pattern over the command text is fooled by spelling (`r\\m`, `r''m`, `rm${IFS}-rf`,
`$'\\x72m'`, `sudo sh -c '...'`, `echo cm0g... | base64 -d | sh`). Here the text goes through
three stages, each bounded in size, depth and work (the caps in framework.gate.shell_words);
`read_shell` runs them.

1. `expand` (framework.gate.shell_expand) rewrites, in one linear pass, what bashlex does not
   understand: `$IFS`, `$'..'`, variables assigned a literal, comments, here-documents.
2. `commands` (framework.gate.shell_parse) parses with bashlex, or with the fallback tokenizer
   (framework.gate.shell_lexer), into `Command`s; what a substitution or a pipe carries is
   computed when the text alone decides it (framework.gate.shell_output).
3. `_Reader.unwrap` follows wrappers to the program that really runs: sudo, doas, env, nice,
   nohup, timeout, time, stdbuf, ionice, chroot, exec, command, builtin, busybox, setsid, flock,
   watch, xargs, su, ssh, kubectl/docker exec, find -exec; `sh -c`, eval, trap and alias texts
   are read again (recursively); a shell or interpreter fed from a pipe, a here-doc, a file
   written earlier in the same text (`curl -o i.sh ..; bash i.sh`) or a process substitution
   reads that text when it is known, and is marked opaque (remote or dynamic code) when not.
   What each wrapper hands on is in framework.gate.shell_wrappers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from framework.gate.shell_expand import expand, single_quoted
from framework.gate.shell_output import output, stdin_of
from framework.gate.shell_parse import commands
from framework.gate.shell_words import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_WORDS,
    Command,
    ShellSyntaxError,
    Word,
    describe,
    program_name,
)
from framework.gate.shell_wrappers import (
    _CODE_FLAGS,
    _VALUE_FLAGS,
    _WRAPPERS,
    SHELLS,
    _container_exec,
    _exec_segments,
    _reads_commands,
    _wrapped,
    interpreter,
    options,
)

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_WORDS",
    "Command",
    "Invocation",
    "ParsedShell",
    "ShellSyntaxError",
    "Word",
    "expand",
    "interpreter",
    "options",
    "program_name",
    "read_shell",
    "single_quoted",
]

MAX_WORK = 4 * MAX_CHARS  # all the text parsed for one command, nested scripts included
_GLOB = re.compile(r"[*?]|\[[^\]]+\]")  # `[` and `[[` alone are test commands, not patterns
_Emit = Callable[..., None]  # records an Invocation for the command being unwrapped


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


def read_shell(command: str) -> ParsedShell:
    """Every program `command` would run, wrappers unwrapped, and what could not be read."""
    reader = _Reader()
    reader.read(command, (), 0)
    return reader.parsed
