"""The per-program rules of the command classifier (framework.gate.commands), for the programs that
act on this machine: files, disks, power and permissions; with the Finding a rule yields and the
helpers a rule reads its program's arguments with. The programs that manage shared state are in
framework.gate.programs_services; framework.gate.judge picks a rule by program name."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from framework.gate.shell import Invocation, Word


@dataclass
class Finding:
    kind: str  # one of KINDS
    program: str  # the program that does it, e.g. "rm", "psql", "git"
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


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


def _permissions(prog: str, args: list[Word], inv: Invocation) -> Iterator[Finding]:
    flags, ops = _scan(args)
    if not flags & {"-R", "--recursive"}:
        return
    targets = ops[1:] if not any(f.startswith("--reference") for f in flags) else ops
    top = [t.text for t in targets if re.fullmatch(r"/[^/]*/?|/\*|~/?|\$HOME/?", t.text) and t.text != "/tmp"]
    if top:
        yield Finding("breaks_permissions", prog, f"{prog} -R on {' '.join(top)}", {"targets": top})
