"""Loading skills and policies from their folders: each file read safely (framework.yaml_files) and
validated, errors collected as `path:line: field X: what is wrong` (with the allowed values, or the
key meant) while the other files still load; conflicts reported. `Procedures.blocking` are the
problems that must stop an agent from starting: a file that does not load, and a policy left
unenforced because another file took its name (both would let calls through unchecked)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from framework.memory.procedural.conflicts import policy_conflicts, skill_conflicts
from framework.memory.procedural.schema import Kind, Policy, Skill
from framework.yaml_files import YamlDocument, YamlFileError, did_you_mean, read_yaml, shown


@dataclass
class Procedures:
    skills: list[Skill] = field(default_factory=list)  # active: what recall chooses from
    policies: list[Policy] = field(default_factory=list)  # active: what the gate enforces
    deprecated: list[Skill | Policy] = field(default_factory=list)  # loaded, reported, unused
    errors: list[str] = field(default_factory=list)  # one line per problem: path[:line], field, what
    conflicts: list[str] = field(default_factory=list)  # contradictions between files, naming both
    unenforced: list[str] = field(default_factory=list)  # conflicts that leave a valid policy unused

    @property
    def problems(self) -> list[str]:
        return self.errors + self.conflicts

    @property
    def blocking(self) -> list[str]:
        """What must stop an agent from starting: every error, and every policy that loaded but is
        not enforced because another file has its name (fail closed, never open)."""
        return self.errors + self.unenforced

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
    doc: YamlDocument | None = None  # what `item` was read from, for the lines of later errors


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
            item, doc = _load_one(path, kind, problems)
            files.append(ProcedureFile(path, kind, item, problems, doc))
    return files, errors


def _load_one(path: Path, kind: Kind, errors: list[str]) -> tuple[Skill | Policy | None, YamlDocument | None]:
    name = kind.__name__.lower()
    try:
        doc = read_yaml(path)  # size cap, UTF-8, no aliases, no duplicate keys: errors name file:line
    except YamlFileError as exc:
        errors.append(str(exc))
        return None, None
    if not isinstance(doc.data, dict):
        got = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        errors.append(f"{doc.where()}: a {name} file is a YAML mapping (key: value lines), not {got}")
        return None, doc
    try:
        item = kind.model_validate(doc.data)
    except ValidationError as exc:
        errors += [_problem(doc, kind, e) for e in exc.errors()]
        return None, doc
    item._source = path
    return item, doc


def _problem(doc: YamlDocument, kind: Kind, error: ErrorDetails) -> str:
    """One validation error as `path:line: field X: what is wrong` (and what is allowed)."""
    loc, kind_of_error, value = tuple(error["loc"]), error["type"], error.get("input")
    field_name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    field_name = field_name or "(top level)"
    if kind_of_error == "extra_forbidden":
        known = _keys_at(kind, loc[:-1])
        hint = did_you_mean(loc[-1], known) or f": remove it, or use one of: {', '.join(known)}"
        return f"{doc.where(loc, key=True)}: field {field_name}: unknown key{hint}"
    if kind_of_error == "missing":
        return f"{doc.where(loc[:-1], key=True)}: field {field_name}: required, but missing: add it"
    return f"{doc.where(loc)}: field {field_name}: {_what(error, value)}"


_EXPECTED = {  # pydantic error type (its prefix) -> what the field takes
    "int_": "a whole number",
    "float_": "a number",
    "bool_": "true or false",
    "string_type": "text",
    "list_type": "a list, e.g. [a, b]",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "date_": "a date (YYYY-MM-DD)",
}


def _what(error: ErrorDetails, value: Any) -> str:
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if error["type"] in ("literal_error", "enum"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{shown(value)} is not one of: {', '.join(allowed)}"
    if error["type"] == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {shown(value)}"
    if error["type"] == "string_too_short":
        return "must not be empty"
    if error["type"] == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    expected = next((v for k, v in _EXPECTED.items() if error["type"].startswith(k)), None)
    if expected is not None:
        return f"expected {expected}, got {shown(value)}"
    return str(error["msg"]).removeprefix("Value error, ")


def _keys_at(kind: Kind, loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at `loc` (inside a `kind` file) takes, for 'unknown key' messages."""
    model: Any = kind
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: same model
        field = model.model_fields.get(part) if _is_model(model) else None
        if field is None:
            return []
        model = next((t for t in _types_in(field.annotation) if _is_model(t)), None)
    return sorted(model.model_fields) if _is_model(model) else []


def _types_in(annotation: Any) -> list[Any]:
    return [annotation, *(t for arg in get_args(annotation) for t in _types_in(arg))]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def assemble(files: list[ProcedureFile], errors: list[str]) -> Procedures:
    out = Procedures(errors=list(errors))
    active: dict[Kind, list[Skill | Policy]] = {Skill: [], Policy: []}
    for f in files:
        out.errors += f.errors
        if f.item is not None:
            (out.deprecated if f.item.deprecated else active[f.kind]).append(f.item)
    for kind, items in active.items():
        active[kind] = _one_per_name(items, kind.__name__.lower(), out.conflicts)
        if kind is Policy:  # the other files' rules would not be enforced: that is failing open
            kept = {id(p) for p in active[kind]}
            dropped = [p for p in items if id(p) not in kept]
            out.unenforced += [
                f"{p.source}: policy {p.label} is not enforced: {_used_instead(p, active[kind])} has its "
                "name; give each policy its own name, or mark the old one `deprecated: true`"
                for p in dropped
            ]
    out.skills = [s for s in active[Skill] if isinstance(s, Skill)]
    out.policies = [p for p in active[Policy] if isinstance(p, Policy)]
    docs = {f.path: f.doc for f in files}
    for old in out.deprecated:
        kind_name = type(old).__name__.lower()
        names = {p.name for p in (out.skills if isinstance(old, Skill) else out.policies)}
        if old.superseded_by is not None and old.superseded_by not in names:
            doc = docs.get(old.source) if old.source is not None else None
            where = doc.where(("superseded_by",)) if doc is not None else old.source
            out.errors.append(
                f"{where}: field superseded_by: no active {kind_name} named {old.superseded_by!r}"
                f"{did_you_mean(old.superseded_by, names)}"
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


def _used_instead(dropped: Policy | Skill, kept: list[Skill | Policy]) -> str:
    winner = next(p for p in kept if p.name == dropped.name)
    return f"{winner.source} ({winner.label})"
