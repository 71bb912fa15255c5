"""Procedural memory in production: versions and deprecation, conflicts between policies, hot
reload of edited files, history from a real git repository, and the JSON Schema of each kind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from framework.errors import HistoryUnavailable
from framework.gate import PolicyGate
from framework.memory.procedural import (
    ProceduralMemory,
    file_history,
    json_schema,
    load_procedures,
)
from framework.memory.working import ToolRecord, WorkingState

ROOT = Path(__file__).resolve().parents[1]

SKILL = """\
name: triage
version: {version}
changelog:
  - {{version: 1, date: 2024-05-01, change: First version.}}
when_to_use: a bug report arrives
steps: [reproduce, fix]
"""


def write(folder: Path, name: str, text: str, age_s: float = 0) -> Path:
    """Write a file; `age_s` > 0 dates it in the past, as a file edited long ago would be."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    if age_s:
        past = time.time() - age_s
        os.utime(path, (past, past))
    return path


def policy(name: str, tools: str, extra: str, version: int = 1) -> str:
    return f"name: {name}\nversion: {version}\napplies_to: {{tools: [{tools}]}}\n{extra}"


def state(*done: str) -> WorkingState:
    return WorkingState(
        user_id="ada",
        session_id="s",
        tool_history=[ToolRecord(name=name, ok=True, decision="allow") for name in done],
    )


# --- versions and deprecation ------------------------------------------------------------------


def test_changelog_and_deprecation_load_and_deprecated_items_are_not_used(tmp_path: Path) -> None:
    skills, policies = tmp_path / "skills", tmp_path / "policies"
    write(skills, "triage.yaml", SKILL.format(version=2))
    write(
        skills,
        "old_triage.yaml",
        "name: old_triage\nwhen_to_use: bugs\nsteps: [guess]\nsuperseded_by: triage\n",
    )
    write(policies, "old_rule.yaml", policy("old_rule", "deploy_*", "forbid: true\ndeprecated: true\n"))
    out = load_procedures(skills, policies)

    assert out.errors == [] and out.conflicts == []
    [triage] = out.skills
    assert (triage.label, triage.changelog[0].change, str(triage.changelog[0].date)) == (
        "triage@2",
        "First version.",
        "2024-05-01",
    )
    assert {p.name for p in out.deprecated} == {"old_triage", "old_rule"}
    assert all(p.deprecated for p in out.deprecated)  # superseded_by implies deprecated
    assert out.policies == []
    assert PolicyGate(out.policies + out.deprecated).check("deploy_x", {}, state()).verdict == "allow"


def test_version_and_changelog_mistakes_name_file_and_field(tmp_path: Path) -> None:
    ahead = write(tmp_path, "ahead.yaml", SKILL.format(version=1).replace("version: 1,", "version: 3,"))
    zero = write(tmp_path, "zero.yaml", SKILL.format(version=0).replace("triage", "zero"))
    dangling = write(
        tmp_path,
        "dangling.yaml",
        "name: old\nwhen_to_use: x\nsteps: [a]\nsuperseded_by: nothing_by_that_name\n",
    )
    out = load_procedures(tmp_path, None)
    assert out.skills == []
    assert sorted(out.errors) == sorted(
        [
            f"{ahead}:4: field changelog: mentions version 3 but version is 1: raise version",
            f"{zero}:2: field version: must be at least 1, got 0",
            f"{dangling}:4: field superseded_by: no active skill named 'nothing_by_that_name'",
        ]
    )


# --- conflicts -----------------------------------------------------------------------------------


def test_a_policy_forbidding_what_another_requires_is_a_conflict(tmp_path: Path) -> None:
    no_staging = write(
        tmp_path, "no_staging.yaml", policy("no_staging", "deploy_to_staging", "forbid: true\n")
    )
    staging_first = write(
        tmp_path,
        "staging_first.yaml",
        policy("staging_first", "deploy_to_production", "requires: [{tool: deploy_to_staging}]\n"),
    )
    out = load_procedures(None, tmp_path)
    [conflict] = out.conflicts
    assert str(no_staging) in conflict and str(staging_first) in conflict
    assert "no_staging@1 forbids every call of deploy_to_staging" in conflict
    assert len(out.policies) == 2 and out.errors == []  # both still load: the gate stays strict


def test_forbid_and_approval_on_one_tool_is_a_conflict(tmp_path: Path) -> None:
    write(tmp_path, "never.yaml", policy("never_shell", "run_*", "forbid: true\n"))
    write(tmp_path, "ask.yaml", policy("ask_first", "run_shell", "approval: true\n"))
    [conflict] = load_procedures(None, tmp_path).conflicts
    assert "never.yaml" in conflict and "ask.yaml" in conflict
    assert "ask_first@1 asks a human's approval" in conflict


def test_conditional_or_soft_policies_do_not_conflict(tmp_path: Path) -> None:
    write(
        tmp_path,
        "no_prod_db.yaml",
        "name: no_prod_db\napplies_to:\n  tools: [run_shell]\n  arguments: {command: 'prod'}\nforbid: true\n",
    )
    write(tmp_path, "soft.yaml", policy("discouraged", "run_shell", "forbid: true\nenforcement: soft\n"))
    write(tmp_path, "ask.yaml", policy("ask_first", "run_shell", "approval: true\n"))
    write(tmp_path, "needs.yaml", policy("needs_shell", "deploy", "requires: [{tool: run_shell}]\n"))
    out = load_procedures(None, tmp_path)
    assert out.conflicts == [] and len(out.policies) == 4


def test_one_name_in_two_files_is_a_conflict_and_the_highest_version_is_used(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", policy("no_fridays", "deploy_*", "forbid: true\n", version=1))
    second = write(tmp_path, "b.yaml", policy("no_fridays", "deploy_*", "approval: true\n", version=2))
    out = load_procedures(None, tmp_path)
    [conflict] = out.conflicts
    assert conflict == (
        f"policy 'no_fridays' is defined 2 times: {first} (version 1), {second} (version 2); using {second}"
    )
    assert [p.label for p in out.policies] == ["no_fridays@2"]


def test_requirements_that_can_never_be_met_are_conflicts(tmp_path: Path) -> None:
    loop = write(tmp_path, "loop.yaml", policy("loop", "deploy_*", "requires: [{tool: deploy_staging}]\n"))
    write(tmp_path, "no_shell.yaml", policy("no_shell", "run_shell", "forbid: true\n"))
    skills = tmp_path / "skills"
    uses = write(
        skills, "cleanup.yaml", "name: cleanup\nwhen_to_use: disk full\nsteps: [rm]\ntools: [run_shell]\n"
    )
    out = load_procedures(skills, tmp_path)
    assert len(out.conflicts) == 2
    assert any(c.startswith(f"{loop}: policy loop@1 requires deploy_staging") for c in out.conflicts)
    assert any(str(uses) in c and "skill cleanup@1 uses run_shell" in c for c in out.conflicts)


def test_shipped_procedures_have_no_conflicts_and_carry_changelogs() -> None:
    out = load_procedures(ROOT / "skills", ROOT / "policies")
    assert out.problems == [] and out.deprecated == []
    assert all(p.changelog and p.changelog[-1].version == p.version for p in [*out.skills, *out.policies])


# --- hot reload ----------------------------------------------------------------------------------


def test_an_edited_skill_applies_on_the_next_call(tmp_path: Path) -> None:
    path = write(tmp_path, "triage.yaml", SKILL.format(version=1), age_s=60)
    memory = ProceduralMemory(tmp_path, None)
    first = memory.current()
    assert [s.label for s in first.skills] == ["triage@1"]
    assert memory.current() is first and memory.loads == 1  # unchanged: a stat, no parse

    path.write_text(SKILL.format(version=2))  # same size: mtime tells
    assert [s.label for s in memory.current().skills] == ["triage@2"]
    write(tmp_path, "review.yaml", "name: review\nwhen_to_use: a diff\nsteps: [read]\n")
    assert {s.label for s in memory.current().skills} == {"triage@2", "review@1"}
    path.unlink()
    assert [s.label for s in memory.current().skills] == ["review@1"]


def test_edits_within_one_clock_tick_are_not_missed(tmp_path: Path) -> None:
    path = write(tmp_path, "triage.yaml", SKILL.format(version=1))
    memory = ProceduralMemory(tmp_path, None)
    assert memory.current().skills[0].version == 1
    stat = path.stat()
    path.write_text(SKILL.format(version=2))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime, same inode
    assert memory.current().skills[0].version == 2


def test_a_broken_edit_keeps_the_last_valid_policy_in_force(tmp_path: Path) -> None:
    path = write(tmp_path, "no_curl.yaml", policy("no_curl", "curl", "forbid: true\n"), age_s=60)
    memory = ProceduralMemory(None, tmp_path)
    gate = PolicyGate(memory)
    assert gate.check("curl", {}, state()).verdict == "deny"

    path.write_text(policy("no_curl", "curl", "forbid: true\nenforcment: soft\n", version=2))  # typo
    decision = gate.check("curl", {}, state())
    assert (decision.verdict, decision.policies) == ("deny", ["no_curl@1"])
    assert memory.current().errors == [
        f"{path}:5: field enforcment: unknown key (did you mean 'enforcement'?)",
        f"{path}: still using no_curl@1 as loaded before this edit, until the file is fixed",
    ]

    path.write_text(policy("no_curl", "curl", "forbid: true\nenforcement: soft\n", version=2))
    decision = gate.check("curl", {}, state())
    assert (decision.verdict, decision.policies, decision.sources) == ("warn", ["no_curl@2"], [str(path)])
    assert memory.current().errors == []


def test_gate_follows_policy_edits_without_a_restart(tmp_path: Path) -> None:
    path = write(tmp_path, "prod.yaml", policy("prod", "deploy_to_production", "approval: true\n"), age_s=60)
    gate = PolicyGate(ProceduralMemory(None, tmp_path))
    assert gate.check("deploy_to_production", {}, state()).verdict == "approve"
    path.write_text(policy("prod", "deploy_to_production", "requires: [{tool: run_smoke_tests}]\n", 2))
    assert gate.check("deploy_to_production", {}, state()).verdict == "deny"
    assert gate.check("deploy_to_production", {}, state("run_smoke_tests")).verdict == "allow"


# --- history from git ----------------------------------------------------------------------------

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run([str(GIT), "-C", str(repo), *args], check=True, capture_output=True, env=env)


def skill_repo(root: Path) -> Path:
    """A git repository whose skills/triage.yaml was committed twice (version 1, then 2)."""
    git(root, "init", "-q", "-b", "main")
    path = write(root / "skills", "triage.yaml", SKILL.format(version=1))
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "triage: first version")
    path.write_text(SKILL.format(version=2).replace("[reproduce, fix]", "[reproduce, bisect, fix]"))
    git(root, "commit", "-q", "-am", "triage: bisect before fixing")
    return path


@needs_git
def test_history_lists_every_commit_of_the_file_with_its_version(tmp_path: Path) -> None:
    path = skill_repo(tmp_path)
    commits = file_history(path)
    assert [(c.subject, c.version, c.author) for c in commits] == [
        ("triage: bisect before fixing", 2, "Ada"),
        ("triage: first version", 1, "Ada"),
    ]
    assert all(len(c.sha) == 40 for c in commits)


@needs_git
def test_history_follows_a_renamed_file(tmp_path: Path) -> None:
    skill_repo(tmp_path)
    git(tmp_path, "mv", "skills/triage.yaml", "skills/bug_triage.yaml")
    git(tmp_path, "commit", "-q", "-m", "rename")
    commits = file_history(tmp_path / "skills" / "bug_triage.yaml")
    assert [c.subject for c in commits] == ["rename", "triage: bisect before fixing", "triage: first version"]
    assert [c.version for c in commits] == [2, 2, 1]


@needs_git
def test_history_outside_a_repository_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "plain", "triage.yaml", SKILL.format(version=1))
    with pytest.raises(HistoryUnavailable, match="not in a git repository"):
        file_history(path)


# --- JSON Schema ---------------------------------------------------------------------------------


def test_schemas_are_json_schema_that_accept_the_shipped_files() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for kind, folder in (("skill", "skills"), ("policy", "policies")):
        schema = json.loads(json.dumps(json_schema(kind)))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert {"name", "version", "changelog", "deprecated", "superseded_by"} <= set(schema["properties"])
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for path in (ROOT / folder).glob("*.yaml"):
            data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
            assert list(validator.iter_errors(data)) == [], path
        assert not validator.is_valid({"name": "x", "colour": "red"})  # unknown and missing fields
