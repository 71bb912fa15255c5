"""How the command classifier (framework.gate.commands) judges each program a shell command would
run: its redirections, the per-program rule its name picks (framework.gate.programs), the SQL it
gives a client, the code it gives an interpreter, and functions that call themselves without end."""

from __future__ import annotations

import re
from collections.abc import Iterator

from framework.gate import sql
from framework.gate.programs import (
    _SYSTEM_FILE,
    Finding,
    Rule,
    _device,
    _disks,
    _find,
    _overwrites,
    _permissions,
    _power,
    _rm,
    _texts,
)
from framework.gate.programs_services import _cluster, _containers, _git, _infrastructure, _misc
from framework.gate.shell import Invocation, Word, interpreter, program_name, read_shell

# SQL command-line clients: program -> (sqlglot dialect, options whose value is SQL)
_SQL_CLIENTS = {
    "psql": ("postgres", {"-c", "--command"}),
    "mysql": ("mysql", {"-e", "--execute"}),
    "mariadb": ("mysql", {"-e", "--execute"}),
    "sqlite3": ("sqlite", {"-cmd"}),
    "sqlite": ("sqlite", {"-cmd"}),
    "duckdb": ("duckdb", {"-c", "-cmd"}),
    "sqlcmd": ("tsql", {"-Q", "-q"}),
    "clickhouse-client": ("clickhouse", {"-q", "--query"}),
    "cockroach": ("postgres", {"-e", "--execute"}),
}
_SQL_VALUE = frozenset(
    "-d --dbname -U --username -h --host --port -f --file -u --user -D --database -S --socket -o "
    "--output -v --set --url -separator -newline -nullvalue -init".split()
)
_SQL_PORT = {"psql": "-p", "mysql": "-P", "mariadb": "-P", "cockroach": "-p"}  # mysql's -p is a password
_SHELL_ESCAPE = re.compile(r"^\s*(?:\\!|\.shell\b|\.system\b|system\b)\s*(.*)$", re.I | re.M)


def _sql_client(prog: str, args: list[Word], inv: Invocation, depth: int) -> Iterator[Finding]:
    dialect, sql_flags = _SQL_CLIENTS[prog]
    takes_value = sql_flags | _SQL_VALUE | {_SQL_PORT.get(prog, "--port")}
    texts, k, operands, reads_file = [], 0, [], False
    while k < len(args):
        a = args[k].text
        name, eq, glued = a.partition("=")
        short = next((f for f in sql_flags if len(f) == 2 and a.startswith(f) and len(a) > 2), None)
        if name in takes_value:
            value = args[k + 1] if not eq and k + 1 < len(args) else Word(glued, args[k].dynamic)
            if name in sql_flags:
                texts.append(value)
            if name in ("-f", "--file"):
                reads_file = True
                written = inv.files.get(value.text.removeprefix("./"))  # `echo .. > q.sql; psql -f q.sql`
                texts += [written] if written is not None and not value.dynamic else []
            k += 1 if eq else 2
        elif short is not None:
            texts.append(Word(a[2:], args[k].dynamic))
            k += 1
        else:
            operands.append(args[k]) if not a.startswith("-") else None
            k += 1
    if prog in ("sqlite3", "sqlite", "duckdb"):
        texts += operands[1:]  # sqlite3 DB "SQL" ...
    if not texts and not reads_file and inv.stdin is not None and not inv.stdin.dynamic:
        texts.append(inv.stdin)
    for word in texts:
        if word.dynamic:
            continue  # SQL the command text does not hold
        body = word.text
        for m in _SHELL_ESCAPE.finditer(body):
            if depth < 3:
                yield from _judge_text(m.group(1), depth + 1)
        body = "\n".join(line for line in body.splitlines() if not re.match(r"\s*(?:\\|\.[a-z])", line))
        verdict = sql.classify(body, (dialect, *sql.DIALECTS))
        for issue in verdict.issues:
            yield Finding(issue.kind, prog, issue.reason, {**issue.details, "dialect": dialect})
        if verdict.unparseable:
            yield Finding("unparseable", prog, verdict.unparseable, {})


_DELETE_CALLS = re.compile(
    r"\b(?:rmtree|remove_tree|removedirs|rm_rf|rm_r|rimraf|rmSync|unlinkSync|rmdirSync|"
    r"unlink|rmdir)\b|\bos\.remove\b|\bFile\.delete\b|\bfs\.rm\b|\bFileUtils\.rm\b"
)
_SHELL_API = re.compile(
    r"\b(?:os\.system|os\.popen|subprocess\.\w+|commands\.getoutput|shell_exec|passthru|popen|"
    r"execSync|spawnSync|execFileSync|(?<![.\w])system)\s*\("
)
# One way only to read the gap between two strings of a list (`\s*,?\s*` had 2^k: 130 characters
# without the closing bracket took 2.6 s, 175 would take hours).
_LITERAL_ARG = re.compile(r"\s*(\[\s*(?:(?:'[^']*'|\"[^\"]*\")\s*(?:,\s*)?)*\]|'[^']*'|\"[^\"]*\")\s*[,)]")
_BACKTICKS = re.compile(r"`([^`]+)`|(?:\bqx|%x)(?:\{([^}]*)\}|\(([^)]*)\)|\[([^\]]*)\])")
_STRING = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _code(prog: str, code: str, depth: int) -> Iterator[Finding]:
    """Best effort over interpreter code (python -c, perl -e, ...): deletions, shell-outs, fork loops."""
    if m := _DELETE_CALLS.search(code):
        yield Finding("deletes_files", prog, f"{prog} code calls {m.group(0)}", {"code": code[:200]})
    if re.search(r"\bfork\b", code) and re.search(r"\b(?:while|for|loop|until)\b", code):
        yield Finding("fork_bomb", prog, f"{prog} code forks in a loop", {"code": code[:200]})
    for call in _SHELL_API.finditer(code):
        literal = _LITERAL_ARG.match(code, call.end())
        if literal is None:
            yield Finding("dynamic_command", prog, f"{prog} code runs a shell command built at run time", {})
        elif depth < 3:
            yield from _judge_text(" ".join(a or b for a, b in _STRING.findall(literal.group(1))), depth + 1)
    for tick in _BACKTICKS.finditer(code) if prog in ("perl", "ruby", "php") else ():
        if depth < 3:
            yield from _judge_text(next(g for g in tick.groups() if g is not None), depth + 1)


def _empty_writer(inv: Invocation) -> bool:
    """A command whose redirected output is nothing (or a bare newline): `:`, `true`, `echo -n`..."""
    if not inv.argv:
        return True
    prog, rest = inv.program, _texts(inv.argv[1:])
    while prog == "echo" and rest and re.fullmatch(r"-[neE]+", rest[0]):
        rest = rest[1:]
    return (
        prog in (":", "true", "false")
        or (prog == "echo" and all(r == "" for r in rest))
        or (prog == "printf" and rest[:1] in ([], [""]))
        or (prog == "cat" and rest == ["/dev/null"])
    )


def _redirects(inv: Invocation) -> Iterator[Finding]:
    prog = inv.program or "(redirection)"
    for op, target in inv.redirects:
        if op not in (">", ">|", "&>", ">>", "&>>", "<>", ">&") or re.fullmatch(r"[0-9]+-?|-", target.text):
            continue
        if _device(target):
            yield Finding(
                "wipes_disk", prog, f"writes to the block device {target.text}", {"target": target.text}
            )
        elif target.text == "/proc/sysrq-trigger":
            yield Finding("shuts_down", prog, "writes to /proc/sysrq-trigger", {"target": target.text})
        elif op in (">", ">|", "&>", ">&") and target.text != "/dev/null":
            if _empty_writer(inv):
                yield Finding(
                    "truncates_files", prog, f"`{op} {target.text}` empties the file", {"target": target.text}
                )
            elif _SYSTEM_FILE.match(target.text):
                yield Finding(
                    "truncates_files",
                    prog,
                    f"overwrites the system file {target.text}",
                    {"target": target.text},
                )


_RULES: dict[str, Rule] = {}
for _names, _family in [
    ("rm", _rm),
    ("find", _find),
    ("shred srm wipe cp tee install mv dd truncate", _overwrites),
    (
        "wipefs fdisk sfdisk cfdisk gdisk cgdisk sgdisk parted hdparm badblocks cryptsetup zpool zfs mdadm "
        "blkdiscard lvremove vgremove pvremove mke2fs mkswap mkntfs mkdosfs mkexfatfs mkreiserfs mkudffs",
        _disks,
    ),
    ("shutdown reboot halt poweroff init telinit systemctl loginctl kill", _power),
    ("git", _git),
    ("kubectl oc helm", _cluster),
    ("terraform tofu terragrunt pulumi cdk cdktf serverless sls aws gcloud az", _infrastructure),
    ("docker podman nerdctl docker-compose", _containers),
    ("chmod chown chgrp", _permissions),
    ("crontab rsync redis-cli mongo mongosh", _misc),
]:
    _RULES.update(dict.fromkeys(_names.split(), _family))


def _rule(prog: str) -> Rule | None:
    return _RULES.get(prog) or (_disks if prog.startswith("mkfs") else None)


def _invocation(inv: Invocation, depth: int) -> Iterator[Finding]:
    details = {"via": list(inv.via)} if inv.via else {}
    head = inv.argv[0] if inv.argv else None
    if inv.opaque is not None:
        yield Finding(inv.opaque[0], inv.program, inv.opaque[1], dict(details))
    elif head is not None and head.dynamic:
        why = "is a pattern" if head.dynamic == "glob" else "is computed when it runs"
        yield Finding("dynamic_command", head.text, f"the program `{head.text}` {why}", dict(details))
    found = list(_redirects(inv))
    prog = inv.program
    if inv.code is not None and interpreter(prog):
        found += _code(prog, inv.code, depth)
    if prog in _SQL_CLIENTS:
        found += _sql_client(prog, inv.argv[1:], inv, depth)
    elif head is not None and not head.dynamic and (rule := _rule(prog)):
        found += rule(prog, inv.argv[1:], inv)
    for f in found:
        f.details.update(details)
        yield f


def _fork_bombs(invocations: list[Invocation]) -> Iterator[Finding]:
    """A function that calls itself twice, or once in the background, multiplies without end."""
    calls: dict[str, list[Invocation]] = {}
    for inv in invocations:
        if inv.function is not None and program_name(inv.function) == inv.program:
            calls.setdefault(inv.function, []).append(inv)
    for name, selves in calls.items():
        if len(selves) >= 2 or any(s.background for s in selves):
            yield Finding(
                "fork_bomb",
                name,
                f"function {name} calls itself {len(selves)}x"
                + (" in the background" if any(s.background for s in selves) else ""),
                {},
            )


def judge(invocations: list[Invocation], problems: list[str], depth: int = 0) -> Iterator[Finding]:
    """Findings for programs read from a shell command; unreadable SQL joins `problems`."""
    for inv in invocations:
        for f in _invocation(inv, depth):
            if f.kind == "unparseable":
                problems.append(f"{f.program}: {f.reason}")
            else:
                yield f
    yield from _fork_bombs(invocations)


def _judge_text(command: str, depth: int) -> Iterator[Finding]:
    """Shell text found inside other text (psql `\\!`, python os.system): judged the same way."""
    parsed = read_shell(command)
    problems = list(parsed.problems)
    yield from judge(parsed.invocations, problems, depth)
    for problem in problems:
        yield Finding("unparseable", "sh", problem, {})
