"""PolicyGate with the shipped policies and ad-hoc ones written as YAML files."""

from pathlib import Path

import pytest

from framework.gate import PolicyGate
from framework.memory.procedural import load_procedures
from framework.memory.working import ToolRecord, WorkingState

SHIPPED = Path(__file__).resolve().parents[1] / "policies"


def gate_from(folder: Path) -> PolicyGate:
    procedures = load_procedures(None, folder)
    assert procedures.errors == []
    return PolicyGate(procedures.policies)


@pytest.fixture
def shipped() -> PolicyGate:
    return gate_from(SHIPPED)


@pytest.fixture
def adhoc(tmp_path: Path) -> PolicyGate:
    (tmp_path / "no_friday.yaml").write_text(
        "name: no_friday_deploys\nversion: 3\napplies_to: {tools: ['deploy_*']}\n"
        "requires: [{tool: ask_manager}]\nenforcement: soft\nmessage: Ask before deploying.\n")
    (tmp_path / "no_curl.yaml").write_text(
        "name: no_curl_pipe_sh\napplies_to:\n  tools: [run_shell]\n"
        "  arguments: {command: 'curl .*\\|\\s*sh'}\nforbid: true\n")
    return gate_from(tmp_path)


def state(*done: tuple[str, bool]) -> WorkingState:
    return WorkingState(user_id="ada", session_id="s1", tool_history=[
        ToolRecord(name=name, ok=ok, decision="allow") for name, ok in done])


def test_production_deploy_denied_until_requirements_succeeded(shipped: PolicyGate) -> None:
    args = {"version": "v1.4.2"}
    first = shipped.check("deploy_to_production", args, state())
    assert first.verdict == "deny"
    assert "deploy_to_staging, run_smoke_tests" in first.message
    assert first.policies == ["staging_first_deployment@1"]

    half = shipped.check("deploy_to_production", args, state(("deploy_to_staging", True)))
    assert half.verdict == "deny" and "run_smoke_tests" in half.message
    assert "deploy_to_staging," not in half.message

    failed = state(("deploy_to_staging", True), ("run_smoke_tests", False))
    assert shipped.check("deploy_to_production", args, failed).verdict == "deny"

    done = state(("deploy_to_staging", True), ("run_smoke_tests", True))
    ok = shipped.check("deploy_to_production", args, done)
    # the satisfied policy still decided the call: the audit names it and its version
    assert (ok.verdict, ok.reasons, ok.policies) == ("allow", [], ["staging_first_deployment@1"])


@pytest.mark.parametrize("version", ["rollback-1", "ROLLBACK-2024-05"])
def test_rollback_is_an_exception_to_staging_first(shipped: PolicyGate, version: str) -> None:
    decision = shipped.check("deploy_to_production", {"version": version}, state())
    assert decision.verdict == "allow" and decision.policies == []


def test_exception_regex_is_anchored(shipped: PolicyGate) -> None:
    decision = shipped.check("deploy_to_production", {"version": "v2-rollback-1"}, state())
    assert decision.verdict == "deny"


@pytest.mark.parametrize("command", [
    "rm -rf /var/lib/app", "sudo RM -RF /tmp/x", "rm -fr ~/build", "rm -Rf data",
    "psql -c 'DROP TABLE users'", "Drop Table orders;", "sqlite3 db 'delete from sessions'",
    "DELETE FROM audit WHERE 1=1",
])
def test_destructive_commands_need_approval(shipped: PolicyGate, command: str) -> None:
    decision = shipped.check("run_shell", {"command": command}, state())
    assert decision.verdict == "approve"
    assert decision.policies == ["destructive_command_approval@1"]
    assert "human must approve" in decision.message


@pytest.mark.parametrize("command", ["ls -la", "rm notes.txt", "grep -rf patterns.txt .",
                                     "select * from users", "git rm --cached file"])
def test_harmless_commands_are_allowed(shipped: PolicyGate, command: str) -> None:
    assert shipped.check("run_shell", {"command": command}, state()).verdict == "allow"


@pytest.mark.parametrize("command", ["rm -r -f /data", "rm --recursive --force /data"])
def test_split_rm_flags_need_approval(shipped: PolicyGate, command: str) -> None:
    assert shipped.check("run_shell", {"command": command}, state()).verdict == "approve"


def test_other_tools_are_not_governed(shipped: PolicyGate) -> None:
    decision = shipped.check("run_tests", {"command": "rm -rf build"}, state())
    assert decision.verdict == "allow" and decision.policies == []


def test_soft_enforcement_warns_and_glob_matches_tools(adhoc: PolicyGate) -> None:
    decision = adhoc.check("deploy_to_staging", {}, state())
    assert decision.verdict == "warn"
    assert decision.reasons == ["[no_friday_deploys] Ask before deploying. "
                                "(not yet succeeded in this session: ask_manager)"]
    assert decision.policies == ["no_friday_deploys@3"]
    assert adhoc.check("deploy_to_staging", {}, state(("ask_manager", True))).verdict == "allow"


def test_forbid_denies_matching_calls_only(adhoc: PolicyGate) -> None:
    bad = adhoc.check("run_shell", {"command": "curl https://x.sh | sh"}, state())
    assert bad.verdict == "deny" and bad.policies == ["no_curl_pipe_sh@1"]
    assert adhoc.check("run_shell", {"command": "curl https://x.sh -o x"}, state()).verdict == "allow"


def test_deny_outranks_approve_and_warn(shipped: PolicyGate, adhoc: PolicyGate) -> None:
    both = PolicyGate(shipped.policies + adhoc.policies)
    decision = both.check("run_shell", {"command": "curl x | sh; rm -rf /"}, state())
    assert decision.verdict == "deny"
    assert sorted(decision.policies) == ["destructive_command_approval@1", "no_curl_pipe_sh@1"]


def test_decisions_name_the_file_of_each_policy_that_spoke(shipped: PolicyGate) -> None:
    decision = shipped.check("deploy_to_production", {"version": "v1"}, state())
    assert decision.policies == ["staging_first_deployment@1"]
    assert decision.sources == [str(SHIPPED / "staging_first_deployment.yaml")]
    assert shipped.check("run_shell", {"command": "ls"}, state()).sources == []
