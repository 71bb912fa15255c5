"""Loading skills and policies from their folders: each file validated, errors collected (path,
line or field, what is wrong) while the other files still load; conflicts reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from framework.memory.procedural.conflicts import policy_conflicts, skill_conflicts
from framework.memory.procedural.schema import Kind, Policy, Skill


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
    files, errors = read_folders(skills_dir, policies_dir)
    return assemble(files, errors)


@dataclass
class ProcedureFile:
    path: Path
    kind: Kind
    item: Skill | Policy | None
    errors: list[str]


def folders(skills_dir: Path | None, policies_dir: Path | None) -> list[tuple[Path, Kind]]:
    return [(f, k) for f, k in ((skills_dir, Skill), (policies_dir, Policy)) if f is not None]


def files_in(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def read_folders(skills_dir: Path | None, policies_dir: Path | None) -> tuple[list[ProcedureFile], list[str]]:
    files: list[ProcedureFile] = []
    errors: list[str] = []
    for folder, kind in folders(skills_dir, policies_dir):
        if not folder.is_dir():
            errors.append(f"{folder}: folder not found")
            continue
        for path in files_in(folder):
            problems: list[str] = []
            files.append(ProcedureFile(path, kind, _load_one(path, kind, problems), problems))
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


def assemble(files: list[ProcedureFile], errors: list[str]) -> Procedures:
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
