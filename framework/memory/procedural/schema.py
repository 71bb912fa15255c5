"""The schema of skill and policy files (YAML, validated with pydantic; unknown keys are errors)."""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from framework.memory.procedural.patterns import compile_pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_regexes(value: dict[str, str]) -> dict[str, str]:
    for name, pattern in value.items():
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            raise ValueError(f"argument {name!r}: {exc}") from None
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
    parse: dict[str, Literal["shell", "sql"]] = Field(
        default_factory=dict,
        description="argument name -> language: the argument is parsed as a command, and what it does "
        "becomes effects of the call (an argument that cannot be parsed is the effect 'unparseable')",
    )
    effects: list[str] = Field(
        default_factory=list,
        description="the policy applies only to calls with one of these effects: declared by the tool "
        "(@tool(effects=...)) or found by parsing (deletes_files, wipes_disk, drops_data, ...); "
        "a parsed argument that cannot be parsed always applies (fail closed)",
    )

    _regexes = field_validator("arguments")(_check_regexes)


class Requirement(_Strict):
    tool: str = Field(description="a tool that must have succeeded earlier in this session")
    same: list[str] = Field(
        default_factory=list,
        description="arguments whose values must equal this call's (e.g. [version]: the same version)",
    )
    arguments: dict[str, str] = Field(
        default_factory=dict,
        description="argument name -> regex the required call's own arguments must match "
        "(e.g. {environment: '^staging$'})",
    )
    after: str | None = Field(
        None,
        description="only calls after the latest successful call of this other required tool count "
        "(e.g. smoke tests after the staging deploy)",
    )
    latest: bool = Field(
        False,
        description="the latest such call must have succeeded (a later failure undoes an earlier success)",
    )

    _regexes = field_validator("arguments")(_check_regexes)


class PolicyExemption(_Strict):
    """When all its argument patterns match a call, the policy does not apply to that call."""

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
    exceptions: list[PolicyExemption] = Field(default_factory=list)

    def governs(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.applies_to.tools)

    @property
    def unconditional(self) -> bool:
        """Applies to every call of its tools: no argument or effect condition, no exception."""
        return not self.applies_to.arguments and not self.applies_to.effects and not self.exceptions

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
