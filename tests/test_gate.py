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


def state(*done: tuple[str, bool] | tuple[str, bool, dict[str, str]]) -> WorkingState:
    return WorkingState(user_id="ada", session_id="s1", tool_history=[
        ToolRecord(name=step[0], ok=step[1], decision="allow", arguments=step[2] if len(step) > 2 else {})
        for step in done])


STAGED = ("deploy_to_staging", True, {"version": "v1.4.2"})
SMOKE_OK = ("run_smoke_tests", True, {"environment": "staging"})
SMOKE_FAILED = ("run_smoke_tests", False, {"environment": "staging"})


def test_production_deploy_denied_until_requirements_succeeded(shipped: PolicyGate) -> None:
    args = {"version": "v1.4.2"}
    first = shipped.check("deploy_to_production", args, state())
    assert first.verdict == "deny"
    assert "deploy_to_staging (same version), run_smoke_tests" in first.message
    assert first.policies == ["staging_first_deployment@2"]

    half = shipped.check("deploy_to_production", args, state(STAGED))
    assert half.verdict == "deny" and "run_smoke_tests" in half.message
    assert "deploy_to_staging (" not in half.message

    failed = state(STAGED, SMOKE_FAILED)
    assert shipped.check("deploy_to_production", args, failed).verdict == "deny"

    done = state(STAGED, SMOKE_OK)
    ok = shipped.check("deploy_to_production", args, done)
    # the satisfied policy still decided the call: the audit names it and its version
    assert (ok.verdict, ok.reasons, ok.policies) == ("allow", [], ["staging_first_deployment@2"])


@pytest.mark.parametrize(
    "history",
    [
        # staging ran another version: 9.9 was never staged
        [("deploy_to_staging", True, {"version": "1.0"}), SMOKE_OK],
        # the smoke tests failed after passing once: the latest result counts
        [STAGED, SMOKE_OK, SMOKE_FAILED],
        # smoke tests passed, but before this version reached staging
        [SMOKE_OK, STAGED],
        # smoke tests passed on production, not on staging
        [STAGED, ("run_smoke_tests", True, {"environment": "production"})],
        # the staging deploy failed
        [("deploy_to_staging", False, {"version": "v1.4.2"}), SMOKE_OK],
    ],
)
def test_staging_first_checks_the_same_version_and_the_latest_smoke_test(
    shipped: PolicyGate, history: list[tuple[str, bool, dict[str, str]]]
) -> None:
    decision = shipped.check("deploy_to_production", {"version": "v1.4.2"}, state(*history))
    assert decision.verdict == "deny", decision


def test_staging_first_allows_a_retest_that_passes_after_a_failure(shipped: PolicyGate) -> None:
    history = state(STAGED, SMOKE_FAILED, ("deploy_to_staging", True, {"version": "v1.4.2"}), SMOKE_OK)
    assert shipped.check("deploy_to_production", {"version": "v1.4.2"}, history).verdict == "allow"
    other = shipped.check("deploy_to_production", {"version": "9.9"}, history)
    assert other.verdict == "deny" and "deploy_to_staging (same version)" in other.message


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
    assert decision.policies == ["destructive_command_approval@2"]
    assert "human must approve" in decision.message


@pytest.mark.parametrize("command", ["ls -la", "rm notes.txt", "grep -rf patterns.txt .",
                                     "select * from users", "git rm --cached file"])
def test_harmless_commands_are_allowed(shipped: PolicyGate, command: str) -> None:
    assert shipped.check("run_shell", {"command": command}, state()).verdict == "allow"


@pytest.mark.parametrize("command", ["rm -r -f /data", "rm --recursive --force /data"])
def test_split_rm_flags_need_approval(shipped: PolicyGate, command: str) -> None:
    assert shipped.check("run_shell", {"command": command}, state()).verdict == "approve"


def test_any_tool_is_governed_by_what_its_command_does_not_by_its_name(shipped: PolicyGate) -> None:
    harmless = shipped.check("run_tests", {"command": "pytest -q tests"}, state())
    assert harmless.verdict == "allow" and harmless.policies == []
    destructive = shipped.check("run_tests", {"command": "rm -rf build"}, state())
    assert destructive.verdict == "approve" and "deletes_files" in destructive.effects
    unrelated = shipped.check("search_docs", {"text": "rm -rf build"}, state())  # not a command
    assert unrelated.verdict == "allow" and unrelated.policies == []


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
    assert sorted(decision.policies) == ["destructive_command_approval@2", "no_curl_pipe_sh@1"]


def test_decisions_name_the_file_of_each_policy_that_spoke(shipped: PolicyGate) -> None:
    decision = shipped.check("deploy_to_production", {"version": "v1"}, state())
    assert decision.policies == ["staging_first_deployment@2"]
    assert decision.sources == [str(SHIPPED / "staging_first_deployment.yaml")]
    assert shipped.check("run_shell", {"command": "ls"}, state()).sources == []


def test_a_shell_out_list_without_its_bracket_is_read_in_linear_time() -> None:
    """The literal-argument pattern once read the gap between two strings of a list in 2^k ways:
    130 characters of code without the closing bracket took 2.6 s, 175 would have taken hours."""
    import time

    from framework.gate.commands import classify_shell

    started = time.perf_counter()
    for gap in (" ", "   ", " , "):
        classify_shell('python -c "import os; os.system([' + ("'a'" + gap) * 2000 + '"')
    assert time.perf_counter() - started < 5.0  # linear: milliseconds
    found = classify_shell("""python -c "import os; os.system(['rm', '-rf', '/'])" """).findings
    assert [f.kind for f in found] == ["deletes_files"]
