"""L4 procedural memory: skills and policies written in YAML, validated on load.

A bad file is reported with its path and the field at fault, and the other files still load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_regexes(value: dict[str, str]) -> dict[str, str]:
    for name, pattern in value.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"argument {name!r}: bad regex {pattern!r}: {exc}") from None
    return value


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


class Policy(_Strict):
    name: str
    version: int = 1
    description: str = ""
    applies_to: AppliesTo
    requires: list[Requirement] = Field(default_factory=list)
    forbid: bool = Field(False, description="a matching call is a violation in itself")
    approval: bool = Field(False, description="a human must approve a matching call")
    enforcement: Literal["hard", "soft"] = "hard"
    message: str = ""
    exceptions: list[PolicyException] = Field(default_factory=list)


class Skill(_Strict):
    name: str
    version: int = 1
    description: str = ""
    when_to_use: str
    steps: list[str] = Field(min_length=1)
    tools: list[str] = Field(default_factory=list)


@dataclass
class Procedures:
    skills: list[Skill] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per bad file: path, field, problem


def load_procedures(skills_dir: Path | None, policies_dir: Path | None) -> Procedures:
    out = Procedures()
    for folder, kind, target in ((skills_dir, Skill, out.skills), (policies_dir, Policy, out.policies)):
        if folder is None:
            continue
        if not folder.is_dir():
            out.errors.append(f"{folder}: folder not found")
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            item = _load_one(path, kind, out.errors)
            if item is not None:
                target.append(item)  # type: ignore[arg-type]
    return out


def _load_one(path: Path, kind: type[Skill] | type[Policy], errors: list[str]) -> Skill | Policy | None:
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
        return kind.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            errors.append(f"{path}: field {loc}: {e['msg']}")
        return None
