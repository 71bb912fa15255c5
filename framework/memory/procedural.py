"""L4 procedural memory: skills and policies written in YAML, validated, versioned, hot-reloaded.

A bad file is reported with its path, the line (YAML syntax) or the field at fault, and the other
files still load. Each skill and policy carries a version, a changelog and may be deprecated
(loaded and reported, never selected or enforced); when the folder is a git repository,
`file_history` lists the commits behind a file. `ProceduralMemory.current()` reloads whenever a
file changed (a stat of each file, no parsing), so an edit applies from the next turn.
Policies that contradict each other are reported in `Procedures.conflicts`, naming both files.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from framework.errors import FrameworkError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_regexes(value: dict[str, str]) -> dict[str, str]:
    for name, pattern in value.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"argument {name!r}: bad regex {pattern!r}: {exc}") from None
    return value


class ChangelogEntry(_Strict):
    version: int = Field(ge=1, description="the version this change produced")
    date: dt.date | None = Field(None, description="when (YYYY-MM-DD)")
    change: str = Field(min_length=1, description="what changed and why, in a sentence")


class _Procedure(_Strict):
    """Fields every skill and policy has: identity, version, and its life cycle."""

    name: str = Field(min_length=1, description="unique among skills (or among policies)")
    version: int = Field(1, ge=1, description="raise it on every change that alters behaviour")
    description: str = ""
    changelog: list[ChangelogEntry] = Field(
        default_factory=list, description="one entry per version, newest last"
    )
    deprecated: bool = Field(False, description="still loads and is reported, but is never used")
    superseded_by: str | None = Field(
        None, description="the name of what replaces this one (implies deprecated)"
    )

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this was loaded from (None when built in code)."""
        return self._source

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @field_validator("changelog")
    @classmethod
    def _not_ahead_of_version(cls, value: list[ChangelogEntry], info: ValidationInfo) -> list[ChangelogEntry]:
        version = info.data.get("version")
        ahead = [e.version for e in value if version is not None and e.version > version]
        if ahead:
            raise ValueError(f"mentions version {max(ahead)} but version is {version}: raise version")
        return value

    @model_validator(mode="after")
    def _superseded_is_deprecated(self) -> _Procedure:
        if self.superseded_by is not None:
            self.deprecated = True
        return self


class AppliesTo(_Strict):
    tools: list[str] = Field(min_length=1, description="tool names (fnmatch patterns) the policy governs")
    arguments: dict[str, str] = Field(
        default_factory=dict, description="argument name -> regex; all must match (case-insensitive)"
    )

    _regexes = field_validator("arguments")(_check_regexes)


class Requirement(_Strict):
    tool: str = Field(description="a tool that must have succeeded earlier in this session")


class PolicyException(_Strict):
    arguments: dict[str, str] = Field(
        min_length=1, description="argument name -> regex; when all match, the policy does not apply"
    )
    _regexes = field_validator("arguments")(_check_regexes)


class Policy(_Procedure):
    """A rule the policy gate enforces on tool calls."""

    applies_to: AppliesTo
    requires: list[Requirement] = Field(default_factory=list)
    forbid: bool = Field(False, description="a matching call is a violation in itself")
    approval: bool = Field(False, description="a human must approve a matching call")
    enforcement: Literal["hard", "soft"] = Field(
        "hard", description="hard: a violation is denied; soft: it runs with a warning"
    )
    message: str = Field("", description="what the model (and the user) is told when this policy speaks")
    exceptions: list[PolicyException] = Field(default_factory=list)

    def governs(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.applies_to.tools)

    @property
    def unconditional(self) -> bool:
        """Applies to every call of its tools: no argument condition, no exception."""
        return not self.applies_to.arguments and not self.exceptions

    @property
    def blocks_every_call(self) -> bool:
        """A hard, unconditional forbid: the tools it governs can never run."""
        return self.forbid and self.enforcement == "hard" and self.unconditional


class Skill(_Procedure):
    """A procedure the agent is shown when the request matches `when_to_use`."""

    when_to_use: str = Field(description="the requests this skill is for, in words")
    steps: list[str] = Field(min_length=1)
    tools: list[str] = Field(default_factory=list, description="the tools the steps use")


Kind = type[Skill] | type[Policy]
SCHEMAS: dict[str, Kind] = {"skill": Skill, "policy": Policy}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a skill or policy file, for editors to validate against."""
    schema = SCHEMAS[kind].model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


@dataclass
class Procedures:
    skills: list[Skill] = field(default_factory=list)  # active: what recall chooses from
    policies: list[Policy] = field(default_factory=list)  # active: what the gate enforces
    deprecated: list[Skill | Policy] = field(default_factory=list)  # loaded, reported, unused
    errors: list[str] = field(default_factory=list)  # one line per problem: path[:line], field, what
    conflicts: list[str] = field(default_factory=list)  # contradictions between files, naming both

    @property
    def problems(self) -> list[str]:
        return self.errors + self.conflicts

    def find(self, name: str) -> list[Skill | Policy]:
        """Every skill or policy called `name`, active or deprecated."""
        return [p for p in [*self.skills, *self.policies, *self.deprecated] if p.name == name]


def load_procedures(skills_dir: Path | None, policies_dir: Path | None) -> Procedures:
    files, errors = _read_folders(skills_dir, policies_dir)
    return _assemble(files, errors)


@dataclass
class _File:
    path: Path
    kind: Kind
    item: Skill | Policy | None
    errors: list[str]


def _folders(skills_dir: Path | None, policies_dir: Path | None) -> list[tuple[Path, Kind]]:
    return [(f, k) for f, k in ((skills_dir, Skill), (policies_dir, Policy)) if f is not None]


def _files_in(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def _read_folders(skills_dir: Path | None, policies_dir: Path | None) -> tuple[list[_File], list[str]]:
    files: list[_File] = []
    errors: list[str] = []
    for folder, kind in _folders(skills_dir, policies_dir):
        if not folder.is_dir():
            errors.append(f"{folder}: folder not found")
            continue
        for path in _files_in(folder):
            problems: list[str] = []
            files.append(_File(path, kind, _load_one(path, kind, problems), problems))
    return files, errors


def _load_one(path: Path, kind: Kind, errors: list[str]) -> Skill | Policy | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{path}: cannot read: {exc}")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        errors.append(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return None
    if not isinstance(data, dict):
        errors.append(f"{path}: a {kind.__name__.lower()} file is a YAML mapping")
        return None
    try:
        item = kind.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            errors.append(f"{path}: field {loc}: {e['msg']}")
        return None
    item._source = path
    return item


def _assemble(files: list[_File], errors: list[str]) -> Procedures:
    out = Procedures(errors=list(errors))
    active: dict[Kind, list[Skill | Policy]] = {Skill: [], Policy: []}
    for f in files:
        out.errors += f.errors
        if f.item is not None:
            (out.deprecated if f.item.deprecated else active[f.kind]).append(f.item)
    for kind, items in active.items():
        active[kind] = _one_per_name(items, kind.__name__.lower(), out.conflicts)
    out.skills = [s for s in active[Skill] if isinstance(s, Skill)]
    out.policies = [p for p in active[Policy] if isinstance(p, Policy)]
    for old in out.deprecated:
        kind_name = type(old).__name__.lower()
        names = {p.name for p in (out.skills if isinstance(old, Skill) else out.policies)}
        if old.superseded_by is not None and old.superseded_by not in names:
            out.errors.append(
                f"{old.source}: field superseded_by: no active {kind_name} named {old.superseded_by!r}"
            )
    out.conflicts += policy_conflicts(out.policies) + skill_conflicts(out.skills, out.policies)
    return out


def _one_per_name(items: list[Skill | Policy], kind: str, conflicts: list[str]) -> list[Skill | Policy]:
    """Two files defining one name is a conflict; the highest version is used (then the first file)."""
    by_name: dict[str, list[Skill | Policy]] = {}
    for item in items:
        by_name.setdefault(item.name, []).append(item)
    kept: set[int] = set()
    for name, same in by_name.items():
        winner = max(same, key=lambda p: p.version)  # max() keeps the first of equals
        kept.add(id(winner))
        if len(same) > 1:
            where = ", ".join(f"{p.source} (version {p.version})" for p in same)
            conflicts.append(f"{kind} {name!r} is defined {len(same)} times: {where}; using {winner.source}")
    return [item for item in items if id(item) in kept]


def _overlap(a: Policy, b: Policy) -> bool:
    return any(
        fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x)
        for x in a.applies_to.tools
        for y in b.applies_to.tools
    )


def policy_conflicts(policies: list[Policy]) -> list[str]:
    """Contradictions between active policies, each naming the files involved."""
    found = []
    for a in policies:
        for r in a.requires:  # a hard, unconditional policy that needs what it governs
            if a.governs(r.tool) and a.enforcement == "hard" and a.unconditional:
                found.append(
                    f"{a.source}: policy {a.label} requires {r.tool} to have succeeded before any call "
                    f"of {r.tool}: it can never be satisfied"
                )
        if not a.blocks_every_call:
            continue
        for b in policies:
            if b is a:
                continue
            for r in b.requires:
                if a.governs(r.tool):
                    found.append(
                        f"{a.source} and {b.source}: policy {a.label} forbids every call of {r.tool}, "
                        f"which policy {b.label} requires to have succeeded first"
                    )
            if b.approval and _overlap(a, b):
                found.append(
                    f"{a.source} and {b.source}: policy {a.label} forbids every call of "
                    f"{', '.join(a.applies_to.tools)}, for which policy {b.label} asks a human's "
                    "approval: the approval can never be given"
                )
    return found


def skill_conflicts(skills: list[Skill], policies: list[Policy]) -> list[str]:
    return [
        f"{s.source} and {p.source}: skill {s.label} uses {tool}, "
        f"which policy {p.label} forbids on every call"
        for s in skills
        for tool in s.tools
        for p in policies
        if p.blocks_every_call and p.governs(tool)
    ]


RACY_NS = 2_000_000_000  # file systems keep mtimes to 1 ns at best, 2 s at worst (FAT)


class ProceduralMemory:
    """The skills and policies of two folders, reloaded when a file changes.

    `current()` costs one directory listing and one stat per file: it is called every turn.
    When an edit breaks a file that loaded before, the last valid version of that file stays in
    force (a policy must not vanish because of a typo) and the error says so.
    """

    def __init__(self, skills_dir: Path | None, policies_dir: Path | None) -> None:
        self.skills_dir, self.policies_dir = skills_dir, policies_dir
        self.loads = 0  # how many times the files were (re)read
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._procedures = Procedures()
        self._last_good: dict[Path, Skill | Policy] = {}

    def current(self) -> Procedures:
        stamp, newest = self._fingerprint()
        with self._lock:
            if stamp != self._stamp:
                self._reload()
                # A file modified within the last RACY_NS may be modified again within the same
                # clock tick, keeping its mtime and size: until it is older, always re-read.
                self._stamp = None if time.time_ns() - newest < RACY_NS else stamp
            return self._procedures

    def _fingerprint(self) -> tuple[tuple[object, ...], int]:
        marks: list[object] = []
        newest = 0
        for folder, _ in _folders(self.skills_dir, self.policies_dir):
            marks.append(str(folder))
            for path in _files_in(folder) if folder.is_dir() else []:
                try:
                    st = path.stat()
                except OSError:  # removed between listing and stat: the next call sees it gone
                    continue
                marks.append((path.name, st.st_mtime_ns, st.st_size, st.st_ino))
                newest = max(newest, st.st_mtime_ns)
        return tuple(marks), newest

    def _reload(self) -> None:
        files, errors = _read_folders(self.skills_dir, self.policies_dir)
        for f in files:
            previous = self._last_good.get(f.path)
            if f.item is None and previous is not None:
                f.item = previous
                f.errors.append(
                    f"{f.path}: still using {previous.label} as loaded before this edit, until the "
                    "file is fixed"
                )
        self._last_good = {f.path: f.item for f in files if f.item is not None}
        self._procedures = _assemble(files, errors)
        self.loads += 1


# --- history from git ---------------------------------------------------------------------------


class HistoryUnavailable(FrameworkError):
    """No git history for a file: git is missing, or the folder is not in a repository."""


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str
    author: str
    subject: str
    version: int | None  # the `version:` field of the file in that commit, when readable


def file_history(path: Path) -> list[Commit]:
    """The commits that touched `path` (following renames), newest first."""
    git = shutil.which("git")
    if git is None:
        raise HistoryUnavailable("git is not installed: no history for procedure files")
    folder = path.resolve().parent

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([git, "-C", str(folder), *args], capture_output=True, text=True, timeout=30)

    inside = run("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise HistoryUnavailable(
            f"{folder} is not in a git repository, so {path.name} has no history; its versions are "
            "only what its version and changelog fields say (git init and commit the folder to keep one)"
        )
    log = run(
        "log",
        "--follow",
        "--name-only",
        "--date=short",
        "--format=%x1e%H%x1f%ad%x1f%an%x1f%s",
        "--",
        path.name,
    )
    if log.returncode != 0:
        raise HistoryUnavailable(f"git log failed for {path}: {log.stderr.strip()}")
    commits = []
    for record in log.stdout.split("\x1e")[1:]:
        header, _, names = record.partition("\n")
        sha, date, author, subject = header.split("\x1f", 3)
        touched = next((n for n in names.split("\n") if n.strip()), None)
        commits.append(Commit(sha, date, author, subject, _version_at(run, sha, touched)))
    return commits


def _version_at(run: Any, sha: str, repo_path: str | None) -> int | None:
    if repo_path is None:
        return None
    shown = run("show", f"{sha}:{repo_path}")
    try:
        data = yaml.safe_load(shown.stdout) if shown.returncode == 0 else None
    except yaml.YAMLError:
        return None
    version = data.get("version", 1) if isinstance(data, dict) else None
    return version if isinstance(version, int) else None
