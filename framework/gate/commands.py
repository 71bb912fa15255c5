"""What a shell command or a SQL text would destroy: the gate's classifier of guarded arguments.

`classify_shell(command)` reads the command as the shell will run it (framework.gate.shell:
quotes, escapes, `$IFS`, wrappers, nested shells, eval, base64 pipes...) and judges each program
that would run; `classify_sql(text)` judges SQL statements (framework.gate.sql). Both return a
`CommandReport`: findings (kind, program, reason, details) and `unparseable` (why some part could
not be read, else None). Policies match the kinds, which are stable names:

  deletes_files             rm -r/-f (any spelling), rm of a wildcard or unknown set, find -delete /
                            -exec rm, shred, rsync --delete, git clean -f, crontab -r, mv x /dev/null,
                            aws s3 rm --recursive, code that deletes (python -c shutil.rmtree ...)
  truncates_files           `: > f`, `> f`, `true > f` (a redirection that writes nothing), `>` over a
                            system file, truncate (except growing), cp /dev/null f
  wipes_disk                dd of=..., mkfs*, mke2fs, mkswap, wipefs -a, fdisk/sfdisk/parted/sgdisk that
                            write, blkdiscard, hdparm --security-erase, writes to a block device, ...
  fork_bomb                 a function calling itself twice, or once in the background; fork in a loop
  shuts_down                shutdown, reboot, halt, poweroff, init 0/6, systemctl poweroff|reboot|...,
                            kill 1 / kill -1, sysrq
  rewrites_git_history      git push --force / -f / --force-with-lease / +refspec / --delete / :branch /
                            --mirror, git reset --hard, git branch -D, git filter-branch; details name
                            the remote, refspecs and branches so a policy can protect some
  deletes_cluster_resources kubectl/oc delete, helm uninstall|delete
  destroys_infrastructure   terraform/tofu/terragrunt destroy, apply -destroy, pulumi destroy, cdk
                            destroy, aws/gcloud/az delete-* / terminate-* operations
  prunes_containers         docker/podman system|volume|... prune, volume rm, rm -f, compose down -v
  breaks_permissions        chmod/chown/chgrp -R on / or a top-level directory
  sql_drop, sql_truncate, sql_delete_all, sql_update_all, sql_alter_drop
                            SQL, given directly or through psql -c, mysql -e, sqlite3 db "...", sqlcmd
                            -Q, here-docs and pipes (see framework.gate.sql)
  drops_data                redis-cli FLUSHALL/FLUSHDB, mongo dropDatabase
  runs_remote_code          a shell or interpreter runs what another program prints (curl | sh,
                            bash <(curl ..), eval "$(..)", an undecodable payload | sh)
  dynamic_command           the program, or the code it runs, is in a variable the gate cannot see
                            (`$CMD -rf /`, `sh -c "$X"`), or is a glob (`/bin/r? -rf /`)
  unparseable               (CommandReport.unparseable) unbalanced quotes, over the size cap
                            (shell.MAX_CHARS), nested deeper than shell.MAX_DEPTH, SQL no dialect parses

Not flagged, by decision: rm of named files without -r/-f (`rm notes.txt`), `unlink f`, writing
real output into a file (`echo 'DROP TABLE' > notes.sql`: the gate cannot know the file existed),
running a script file (`bash deploy.sh`), SQL the text does not hold (`psql -f x.sql`, `psql -c "$Q"`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from framework.gate import sql
from framework.gate.shell import Invocation, Word, interpreter, options, program_name, read_shell

KINDS = tuple(
    "deletes_files truncates_files wipes_disk fork_bomb shuts_down rewrites_git_history "
    "deletes_cluster_resources destroys_infrastructure prunes_containers breaks_permissions sql_drop "
    "sql_truncate sql_delete_all sql_update_all sql_alter_drop drops_data runs_remote_code "
    "dynamic_command unparseable".split()
)
SQL_KINDS = ("sql_drop", "sql_truncate", "sql_delete_all", "sql_update_all", "sql_alter_drop")


@dataclass
class Finding:
    kind: str  # one of KINDS
    program: str  # the program that does it, e.g. "rm", "psql", "git"
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CommandReport:
    findings: list[Finding] = field(default_factory=list)
    unparseable: str | None = None

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings} | ({"unparseable"} if self.unparseable else set())

    @property
    def flagged(self) -> bool:
        """True when the text would destroy something, or could not be read (fails closed)."""
        return bool(self.findings) or self.unparseable is not None

    def reasons(self) -> list[str]:
        out = [f"{f.kind}: {f.reason}" for f in self.findings]
        return out + ([f"unparseable: {self.unparseable}"] if self.unparseable else [])


def _report(findings: Iterable[Finding], problems: list[str]) -> CommandReport:
    unique: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        unique.setdefault((f.kind, f.program, f.reason), f)
    problem = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return CommandReport(list(unique.values()), problem or None)


def classify_shell(command: str) -> CommandReport:
    """Findings for every program `command` would run (see the module docstring for the kinds)."""
    try:
        parsed = read_shell(command)
        problems = list(parsed.problems)
        findings = list(judge(parsed.invocations, problems))
    except Exception as e:  # a bug here must deny, not crash the gate or allow
        return CommandReport(unparseable=f"classifier error: {type(e).__name__}: {e}")
    return _report(findings, problems)


def classify_sql(text: str, dialect: str | None = None) -> CommandReport:
    """Findings for SQL text; `dialect` (sqlglot's name, e.g. "postgres") is tried first."""
    dialects = (dialect, *sql.DIALECTS) if dialect else sql.DIALECTS
    try:
        verdict = sql.classify(text, dialects)
    except Exception as e:  # as above: fail closed
        return CommandReport(unparseable=f"classifier error: {type(e).__name__}: {e}")
    findings = [Finding(i.kind, "sql", i.reason, i.details) for i in verdict.issues]
    return _report(findings, [verdict.unparseable] if verdict.unparseable else [])


# --- rules: one small function per family of programs ------------------------------------------------

Rule = Callable[[str, list[Word], Invocation], Iterator[Finding]]
_SAFE_DEVICES = frozenset(
    "/dev/null /dev/zero /dev/stdout /dev/stderr /dev/stdin /dev/tty /dev/random /dev/urandom "
    "/dev/full".split()
)
_SYSTEM_FILE = re.compile(r"^/(?:etc|boot|bin|sbin|usr|lib|lib32|lib64|var/lib)/")


def _device(word: Word) -> bool:
    t = word.text
    safe = t in _SAFE_DEVICES or t.startswith(("/dev/fd/", "/dev/pts/", "/dev/shm/"))
    return t.startswith("/dev/") and not safe


def _scan(args: list[Word]) -> tuple[set[str], list[Word]]:
    """Options anywhere on the line (GNU style: `rm / -rf`) as flags, and the operands."""
    flags: set[str] = set()
    operands: list[Word] = []
    ended = False
    for w in args:
        t = w.text
        if ended or w.dynamic or not t.startswith("-") or t == "-":
            operands.append(w)
        elif t == "--":
            ended = True
        elif t.startswith("--"):
            flags.add(t.split("=", 1)[0])
        else:
            flags.update("-" + c for c in t[1:])
    return flags, operands


def _texts(words: list[Word]) -> list[str]:
    return [w.text for w in words]


def _wild(word: Word) -> bool:
    return bool(word.dynamic) or any(c in word.text for c in "*?[")


def _rm(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, targets = _scan(args)
    strong = sorted(flags & {"-r", "-R", "-f", "--recursive", "--force", "--no-preserve-root"})
    if strong:
        yield Finding(
            "deletes_files",
            prog,
            f"rm {' '.join(strong)} {' '.join(_texts(targets))}".strip(),
            {"targets": _texts(targets), "flags": strong},
        )
    elif any(_wild(t) for t in targets):
        yield Finding(
            "deletes_files", prog, "rm of a wildcard or unknown set of files", {"targets": _texts(targets)}
        )


def _find(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    if "-delete" in _texts(args):
        yield Finding("deletes_files", prog, "find -delete", {"args": _texts(args)})


def _overwrites(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    """shred, cp /dev/null f, mv f /dev/null, tee/cp to a device, truncate, dd."""
    flags, ops = _scan(args)
    if prog in ("shred", "srm", "wipe"):
        kind = "wipes_disk" if any(_device(o) for o in ops) else "deletes_files"
        yield Finding(kind, prog, f"{prog} overwrites {' '.join(_texts(ops))}", {"targets": _texts(ops)})
    elif prog in ("cp", "tee", "install") and any(_device(o) for o in ops[1 if prog != "tee" else 0 :]):
        yield Finding("wipes_disk", prog, f"{prog} writes to a block device", {"targets": _texts(ops)})
    elif prog == "tee" and not flags & {"-a", "--append"} and any(_SYSTEM_FILE.match(o.text) for o in ops):
        yield Finding("truncates_files", prog, "tee overwrites a system file", {"targets": _texts(ops)})
    elif prog == "cp" and len(ops) >= 2 and ops[0].text in ("/dev/null", "/dev/zero"):
        yield Finding(
            "truncates_files", prog, f"cp {ops[0].text} empties {ops[-1].text}", {"target": ops[-1].text}
        )
    elif prog == "mv" and ops and ops[-1].text == "/dev/null":
        yield Finding("deletes_files", prog, "mv to /dev/null", {"targets": _texts(ops[:-1])})
    elif prog == "dd":
        for w in args:
            if w.text.startswith("of=") and w.text != "of=/dev/null":
                target = Word(w.text[3:], w.dynamic)
                what = "a block device" if _device(target) else "a file"
                yield Finding(
                    "wipes_disk",
                    prog,
                    f"dd writes {what}: {target.text}",
                    {"of": target.text, "device": _device(target)},
                )
    elif prog == "truncate":
        sizes = [a.text.split("=", 1)[1] for a in args if a.text.startswith("--size=")]
        sizes += [a.text[2:] for a in args if a.text.startswith("-s") and len(a.text) > 2]
        texts = _texts(args)
        sizes += [texts[k + 1] for k, t in enumerate(texts[:-1]) if t in ("-s", "--size")]
        if flags & {"-r", "--reference"} or not all(s.startswith(("+", ">")) for s in sizes) or not sizes:
            yield Finding("truncates_files", prog, f"truncate {' '.join(texts)}", {"sizes": sizes})


_LISTING = frozenset(
    "-l --list -d --dump -J --json -s --show-size -V --verify -p --print -i --info -v --version -h "
    "--help -L --list-types -O --print-mbr -P --pretend -n --no-act -I -t -T -g".split()
)
_READ_ONLY_PARTED = frozenset(
    "print p unit help version align-check free list all s b kb mb gb kib mib gib % cyl chs compact "
    "opt min".split()
)


def _disks(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    words = [t.lower() for t in _texts(ops)]
    if prog.startswith(("mkfs", "mke2fs", "mkswap", "mkntfs", "mkdosfs", "mkexfat", "mkreiserfs", "mkudffs")):
        writes = not flags & {"-V", "--version", "-h", "--help", "-n"} or prog == "mkswap"
    elif prog == "wipefs":
        writes = bool(flags & {"-a", "--all", "-o", "--offset"}) and not flags & {"-n", "--no-act"}
    elif prog in ("fdisk", "sfdisk", "cfdisk", "gdisk", "cgdisk", "sgdisk"):
        erase = {"--delete", "-Z", "--zap-all", "-z", "--zap", "-o", "--clear", "-w", "--wipe", "-W"}
        writes = not flags & _LISTING or bool(flags & erase) or not ops and not flags
    elif prog == "parted":
        commands = [w for w in words[1:] if not re.fullmatch(r"[0-9.]+[a-z%]*", w)]
        writes = not flags & {"-l", "--list", "-h", "--help", "-v", "--version"} and (
            not commands or any(w not in _READ_ONLY_PARTED for w in commands)
        )
    elif prog == "hdparm":
        writes = any(
            f.startswith(("--security-erase", "--trim-sector", "--write-sector", "--make-bad")) for f in flags
        )
    elif prog == "badblocks":
        writes = "-w" in flags
    elif prog == "cryptsetup":
        writes = bool({"luksformat", "erase", "lukserase", "reencrypt"} & set(words))
    elif prog in ("zpool", "zfs"):
        writes = bool({"destroy", "labelclear"} & set(words[:1]))
    elif prog == "mdadm":
        writes = "--zero-superblock" in flags
    else:  # blkdiscard, lvremove, vgremove, pvremove
        writes = not flags & {"-h", "--help", "-V", "--version"}
    if writes:
        yield Finding(
            "wipes_disk", prog, f"{prog} {' '.join(_texts(args))}".strip(), {"targets": _texts(ops)}
        )


_POWER_VERBS = frozenset("poweroff reboot halt kexec rescue emergency suspend hibernate soft-reboot".split())


def _power(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    words = _texts(ops)
    if prog in ("shutdown", "reboot", "halt", "poweroff"):
        hit = not flags & {"-c", "--help"}  # shutdown -c cancels; -h is "halt", not help
    elif prog in ("init", "telinit"):
        hit = bool(words) and words[0] in ("0", "1", "6", "s", "S")
    elif prog in ("systemctl", "loginctl"):
        targets = {f"{t}.target" for t in _POWER_VERBS | {"runlevel0", "runlevel1", "runlevel6"}}
        hit = bool(words) and (
            words[0] in _POWER_VERBS or words[0] in ("isolate", "start") and bool(targets & set(words))
        )
    else:  # kill: pid 1 (init) or -1 (every process)
        texts = _texts(args)
        if texts and texts[0] in ("-s", "-n"):
            texts = texts[2:]
        elif texts and texts[0].startswith("-") and texts[0] not in ("--", "-1"):
            texts = texts[1:]
        hit = bool({"1", "-1"} & {t for t in texts if t != "--"})
    if hit:
        yield Finding("shuts_down", prog, f"{prog} {' '.join(_texts(args))}".strip(), {})


_FORCE_PUSH = frozenset("-f --force --force-with-lease --force-if-includes --mirror -d --delete".split())
_GIT_VALUE = frozenset("-C -c --git-dir --work-tree --namespace --exec-path --config-env".split())


def _git(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, _ = options(args, _GIT_VALUE)
    if not rest:
        return
    sub, sub_args = rest[0].text, rest[1:]
    flags, ops = _scan(sub_args)
    words = _texts(ops)
    if sub == "push":
        if flags & {"-n", "--dry-run"}:
            return
        force = flags & _FORCE_PUSH
        refspecs = words[1:]
        forced = [r for r in refspecs if r.startswith(("+", ":"))]
        if force or forced or any(w.dynamic for w in ops):
            branches = [r.lstrip("+").split(":")[-1] for r in refspecs]
            how = sorted(force) + forced or ["an unknown argument"]
            yield Finding(
                "rewrites_git_history",
                prog,
                f"git push {' '.join(how)}",
                {
                    "remote": words[0] if words else None,
                    "refspecs": refspecs,
                    "branches": branches,
                    "flags": sorted(force),
                },
            )
    elif sub == "reset" and "--hard" in flags:
        yield Finding("rewrites_git_history", prog, "git reset --hard discards work", {"target": words[:1]})
    elif sub == "clean" and flags & {"-f", "--force"} and not flags & {"-n", "--dry-run"}:
        yield Finding("deletes_files", prog, f"git clean {' '.join(sorted(flags))}", {"flags": sorted(flags)})
    elif sub == "branch" and ("-D" in flags or flags & {"-d", "--delete"} and flags & {"-f", "--force"}):
        yield Finding("rewrites_git_history", prog, f"git branch -D {' '.join(words)}", {"branches": words})
    elif sub in ("filter-branch", "filter-repo"):
        yield Finding("rewrites_git_history", prog, f"git {sub}", {})


_KUBE_VALUE = frozenset(
    "-n --namespace --context --cluster --user --kubeconfig -s --server --token --as "
    "--as-group --request-timeout --kube-context -v --v --profile".split()
)


def _cluster(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, values = options(args, _KUBE_VALUE)
    verb = rest[0].text if rest else ""
    if (prog in ("kubectl", "oc") and verb == "delete") or (
        prog == "helm" and verb in ("uninstall", "delete", "del", "un")
    ):
        _, ops = _scan(rest[1:])
        namespace = values.get("-n") or values.get("--namespace")
        yield Finding(
            "deletes_cluster_resources",
            prog,
            f"{prog} {verb} {' '.join(_texts(ops))}".strip(),
            {"resources": _texts(ops), "namespace": namespace},
        )


def _infrastructure(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    words = _texts(ops)
    why = ""
    if prog in ("terraform", "tofu", "terragrunt"):
        verb = words[0] if words else ""
        if verb == "destroy" or (prog == "terragrunt" and "destroy" in words):
            why = f"{prog} destroy"
        elif verb == "apply" and flags & {"-destroy", "--destroy", "-d"}:
            why = f"{prog} apply -destroy"
    elif prog in ("pulumi", "cdk", "cdktf", "serverless", "sls"):
        if words[:1] in (["destroy"], ["down"], ["remove"]):
            why = f"{prog} {words[0]}"
    elif prog == "aws":
        if words[:2] == ["s3", "rb"]:
            why = "aws s3 rb"
        elif words[:2] == ["s3", "rm"] and "--recursive" in flags:
            yield Finding("deletes_files", prog, "aws s3 rm --recursive", {"targets": words[2:]})
        elif len(words) > 1 and words[1].startswith(
            ("delete-", "terminate-", "remove-", "deregister-", "destroy-")
        ):
            why = f"aws {words[0]} {words[1]}"
    elif "delete" in words:  # gcloud, az
        why = f"{prog} {' '.join(words[: words.index('delete') + 1])}"
    if why:
        yield Finding("destroys_infrastructure", prog, why, {"args": words})


_DOCKER_VALUE = frozenset(
    "-H --host -c --context --config -l --log-level -f --file -p --project-name".split()
)


def _containers(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    rest, _, _ = options(args, _DOCKER_VALUE)
    flags, ops = _scan(rest)
    words = _texts(ops)
    if prog == "docker-compose" or words[:1] == ["compose"]:
        words = words[1:] if words[:1] == ["compose"] else words
        hit = words[:1] == ["down"] and bool(flags & {"-v", "--volumes", "--rmi"})
    else:
        sub, sub2 = (words + ["", ""])[:2]
        hit = (
            "prune" in (sub, sub2)
            or (sub == "volume" and sub2 in ("rm", "remove"))
            or (
                (sub == "rm" or (sub == "container" and sub2 in ("rm", "remove")))
                and bool(flags & {"-f", "--force", "-v", "--volumes"})
            )
        )
    if hit:
        yield Finding("prunes_containers", prog, f"{prog} {' '.join(_texts(rest))}".strip(), {"args": words})


def _permissions(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    if not flags & {"-R", "--recursive"}:
        return
    targets = ops[1:] if not any(f.startswith("--reference") for f in flags) else ops
    top = [t.text for t in targets if re.fullmatch(r"/[^/]*/?|/\*|~/?|\$HOME/?", t.text) and t.text != "/tmp"]
    if top:
        yield Finding("breaks_permissions", prog, f"{prog} -R on {' '.join(top)}", {"targets": top})


def _misc(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    if prog == "crontab" and "-r" in flags:
        yield Finding("deletes_files", prog, "crontab -r removes every scheduled job", {})
    elif prog == "rsync" and any(f.startswith("--delete") or f == "--remove-source-files" for f in flags):
        yield Finding(
            "deletes_files", prog, "rsync --delete removes files at the destination", {"args": _texts(ops)}
        )
    elif prog == "redis-cli":
        said = " ".join(_texts(args) + ([inv.stdin.text] if inv.stdin and not inv.stdin.dynamic else []))
        if re.search(r"\bflush(?:all|db)\b", said, re.I):
            yield Finding("drops_data", prog, "redis FLUSHALL/FLUSHDB", {})
    elif prog in ("mongo", "mongosh"):
        said = " ".join(_texts(args) + ([inv.stdin.text] if inv.stdin and not inv.stdin.dynamic else []))
        if re.search(r"dropDatabase|\.drop\(\)|deleteMany\(\s*\{\s*\}\s*\)", said):
            yield Finding("drops_data", prog, "mongo drops a database or a collection", {})


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
_LITERAL_ARG = re.compile(r"\s*(\[\s*(?:(?:'[^']*'|\"[^\"]*\")\s*,?\s*)*\]|'[^']*'|\"[^\"]*\")\s*[,)]")
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
