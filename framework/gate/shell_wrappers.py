"""What a wrapper hands on, for stage 3 of reading a shell text (framework.gate.shell): each
wrapper's options, the shells and interpreters, and the command that a wrapper, find -exec or a
container's exec runs."""

from __future__ import annotations

import re

from framework.gate.shell_expand import _ASSIGN
from framework.gate.shell_words import Word

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
