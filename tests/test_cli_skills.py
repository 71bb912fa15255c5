"""`framework skills list | history | schema`, driven as a person would, on real folders and a
real git repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli import main

SKILL = "name: triage\nversion: {v}\nwhen_to_use: a bug report arrives\nsteps: [reproduce, fix]\n"


def framework(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["skills", *args])
    return result.exit_code, result.output


def test_list_shows_the_shipped_procedures() -> None:
    code, out = framework("list")
    assert code == 0
    for label in ("code_review@1", "safe_deployment@1", "staging_first_deployment@2",
                  "destructive_command_approval@2"):
        assert label in out
    assert out.strip().endswith("4 in use, 0 deprecated, 0 errors, 0 conflicts")


def test_list_reports_each_problem_and_fails(tmp_path: Path) -> None:
    skills, policies = tmp_path / "skills", tmp_path / "policies"
    skills.mkdir()
    policies.mkdir()
    (skills / "triage.yaml").write_text(SKILL.format(v=2))
    (skills / "broken.yaml").write_text("name: broken\nsteps:\n  - one\n - two\n")
    (skills / "old.yaml").write_text("name: old\nwhen_to_use: x\nsteps: [a]\nsuperseded_by: triage\n")
    (policies / "never.yaml").write_text("name: never\napplies_to: {tools: [deploy]}\nforbid: true\n")
    (policies / "after.yaml").write_text("name: after\napplies_to: {tools: [ship]}\n"
                                         "requires: [{tool: deploy}]\ncolor: red\n")
    (policies / "ask.yaml").write_text("name: ask\napplies_to: {tools: [deploy]}\napproval: true\n")
    code, out = framework("list", "--skills", str(skills), "--policies", str(policies))
    assert code == 1
    assert "triage@2" in out and "(deprecated, superseded by triage: not used)" in out
    assert f"error: {skills / 'broken.yaml'}:4: not valid YAML" in out
    assert f"error: {policies / 'after.yaml'}:4: field color: unknown key: remove it, or use one of: " in out
    conflict = next(line for line in out.splitlines() if line.startswith("conflict:"))
    assert str(policies / "never.yaml") in conflict and str(policies / "ask.yaml") in conflict
    assert out.strip().endswith("3 in use, 1 deprecated, 2 errors, 1 conflicts")


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_history_lists_both_commits_of_an_edited_skill(tmp_path: Path) -> None:
    skills = tmp_path / "skills"
    skills.mkdir()
    path = skills / "triage.yaml"
    git(tmp_path, "init", "-q", "-b", "main")
    path.write_text(SKILL.format(v=1))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "add triage")
    path.write_text(SKILL.format(v=2) + "changelog:\n  - {version: 2, change: Reproduce first.}\n")
    git(tmp_path, "commit", "-q", "-am", "triage v2")

    code, out = framework("history", "triage", "--skills", str(skills))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"skill triage@2  {path}"
    assert lines[1] == "  changelog v2: Reproduce first."
    assert lines[2].endswith("v2   Ada: triage v2") and lines[3].endswith("v1   Ada: add triage")
    assert len(lines) == 4


def test_history_outside_git_explains_itself(tmp_path: Path) -> None:
    (tmp_path / "triage.yaml").write_text(SKILL.format(v=1))
    code, out = framework("history", "triage", "--skills", str(tmp_path))
    assert code == 0
    assert "no git history" in out and "not in a git repository" in out


def test_history_of_an_unknown_name_lists_the_known_ones() -> None:
    code, out = framework("history", "nope")
    assert code == 1 and "no skill or policy named 'nope'" in out and "safe_deployment" in out


def test_schema_prints_json_schema_per_kind() -> None:
    code, out = framework("schema", "skill")
    assert code == 0
    skill = json.loads(out)
    assert skill["title"] == "Skill" and {"when_to_use", "steps", "changelog"} <= set(skill["properties"])
    assert skill["additionalProperties"] is False
    code, out = framework("schema")
    both = json.loads(out)
    assert set(both) == {"skill", "policy"} and "applies_to" in both["policy"]["properties"]


def test_the_command_is_registered_in_the_installed_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "framework", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "skills" in out.stdout
