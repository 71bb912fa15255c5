"""Every way a tool can run goes through the policy gate: the model's calls, a skill's steps,
hooks, a tool calling another tool, `asend`, and code outside any turn. And approvals are
explicit, bound to the exact call, and single-use.

The probe: `deploy_to_production` is governed by the shipped staging-first policy, so in a fresh
session every path must be denied, and each path's call must be recorded and audited.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from framework import Agent, ToolCallRecord, Turn, tool
from framework.errors import PolicyDenied
from framework.gate import Approval, ApprovalRequest
from framework.llm.testing import ScriptedModel, call, say
from framework.memory.governance import Extraction
from framework.steps.intent import Intent

ROOT = Path(__file__).resolve().parent.parent
RAN: list[str] = []  # what really executed, across agents


class Probe(Agent):
    name = "probe"
    policies = str(ROOT / "policies")
    skills = str(ROOT / "skills")
    hook: str | None = None  # which hook calls the tool directly

    @tool
    def deploy_to_production(self, version: str) -> str:
        """Deploy a version to production.

        Args:
            version: the version
        """
        RAN.append(f"production {version}")
        return f"production now runs {version}"

    @tool
    def release(self, version: str) -> str:
        """Release a version (calls another tool itself).

        Args:
            version: the version
        """
        try:
            return self.deploy_to_production(version)
        except PolicyDenied as exc:
            return f"release refused: {exc}"

    @tool(effects={"deletes_files"})
    def clean_workspace(self, path: str) -> str:
        """Delete a workspace folder.

        Args:
            path: the folder
        """
        RAN.append(f"clean {path}")
        return f"cleaned {path}"

    def on_turn_start(self, turn: Turn) -> None:
        if self.hook == "start":
            self._try("start")

    def on_tool_call(self, record: ToolCallRecord) -> None:
        if self.hook == "tool" and record.name != "deploy_to_production":
            self._try("tool")

    def on_turn_end(self, turn: Turn) -> None:
        if self.hook == "end":
            self._try("end")

    def _try(self, where: str) -> None:
        with contextlib.suppress(PolicyDenied):
            self.deploy_to_production(f"hook-{where}")


@pytest.fixture(autouse=True)
def _clean() -> None:
    RAN.clear()


def probe(home: Path, **kwargs: Any) -> tuple[Probe, ScriptedModel]:
    model = ScriptedModel()
    return Probe(model=model, embedder="hash", **kwargs), model


def test_the_models_call_is_gated(home: Path) -> None:
    agent, model = probe(home)
    model.extend(
        [
            Intent(goal="ship", task_type="deploy"),
            call("deploy_to_production", version="1.0"),
            say("denied"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("ship 1.0")
    assert [c.verdict for c in turn.tool_calls] == ["deny"] and RAN == []


def test_a_skill_step_is_gated(home: Path) -> None:
    agent, model = probe(home)
    model.extend(
        [
            Intent(goal="release", task_type="deploy"),
            call("use_skill", name="safe_deployment"),  # chosen in the answer request
            call("deploy_to_production", version="1.0"),
            say("step 1 failed"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("release 1.0 the safe way")
    assert turn.skill is not None and turn.skill.failed_step == 1
    assert [c.verdict for c in turn.tool_calls] == ["deny"] and RAN == []


@pytest.mark.parametrize("hook", ["start", "tool", "end"])
def test_a_hook_calling_a_tool_is_gated_and_recorded(home: Path, hook: str) -> None:
    agent, model = probe(home)
    agent.hook = hook
    steps: list[Any] = [Intent(goal="clean", task_type="ops")]
    if hook == "tool":
        steps.append(call("clean_workspace", path="/tmp/w"))
    # a call denied before the answer fails the turn (worth an extraction); one from the end hook comes after
    steps += [say("done"), Extraction()] if hook in ("tool", "start") else [say("done")]
    model.extend(steps)
    turn = agent.session("ada").send("clean up please")
    direct = [c for c in turn.tool_calls if c.name == "deploy_to_production"]
    assert [c.verdict for c in direct] == ["deny"], turn.tool_calls
    assert not any(r.startswith("production") for r in RAN)
    audit = agent.memory.long_term.history("ada")
    assert any(e.operation == "gate" and e.detail.get("tool") == "deploy_to_production" for e in audit)


def test_a_tool_calling_a_tool_is_gated(home: Path) -> None:
    agent, model = probe(home)
    model.extend(
        [
            Intent(goal="release", task_type="deploy"),
            call("release", version="2.0"),
            say("refused"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("release 2.0")
    names = [(c.name, c.verdict) for c in turn.tool_calls]
    assert ("deploy_to_production", "deny") in names and ("release", "allow") in names
    assert "release refused" in next(c.result for c in turn.tool_calls if c.name == "release")
    assert RAN == []


def test_asend_is_gated(home: Path) -> None:
    agent, model = probe(home)
    model.extend(
        [
            Intent(goal="ship", task_type="deploy"),
            call("deploy_to_production", version="1.0"),
            say("denied"),
            Extraction(),
        ]
    )
    turn = asyncio.run(agent.session("ada").asend("ship 1.0"))
    assert [c.verdict for c in turn.tool_calls] == ["deny"] and RAN == []


def test_code_outside_a_turn_is_gated(home: Path) -> None:
    agent, _ = probe(home)
    with pytest.raises(PolicyDenied, match="staging"):
        agent.deploy_to_production("3.0")
    assert RAN == []


def test_a_declared_effect_is_governed_without_guessing_from_the_name(home: Path) -> None:
    agent, model = probe(home)  # no approver: the destructive-effects policy's approval is refused
    model.extend(
        [
            Intent(goal="clean", task_type="ops"),
            call("clean_workspace", path="/srv/app"),
            say("not approved"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("clean the workspace")
    [record] = turn.tool_calls
    assert record.verdict == "approve" and record.approved is False
    assert "deletes_files" in record.effects and RAN == []


@pytest.mark.parametrize(
    "answer",
    [
        "no",
        "yes",
        1,
        None,
        "true",
        Approval("clean_workspace", {"path": "/other"}),
        Approval("release", {"path": "/srv/app"}),
    ],
)
def test_only_an_explicit_approval_of_this_call_approves(home: Path, answer: Any) -> None:
    agent, model = probe(home, approve=lambda request: answer)
    model.extend(
        [
            Intent(goal="clean", task_type="ops"),
            call("clean_workspace", path="/srv/app"),
            say("not approved"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("clean the workspace")
    assert turn.tool_calls[0].approved is False and RAN == []


def test_true_or_a_matching_approval_approves_once(home: Path) -> None:
    granted = Approval("clean_workspace", {"path": "/srv/app"})
    asked: list[ApprovalRequest] = []

    def approver(request: ApprovalRequest) -> Approval:
        asked.append(request)
        return granted  # the same object every time: a standing permission it must not become

    agent, model = probe(home, approve=approver)
    session = agent.session("ada")
    model.extend([Intent(goal="clean", task_type="ops"), call("clean_workspace", path="/srv/app"), say("ok")])
    first = session.send("clean the workspace")  # a success: nothing to extract
    model.extend(
        [
            Intent(goal="clean", task_type="ops"),
            call("clean_workspace", path="/srv/app"),
            say("refused"),
            Extraction(),
        ]
    )
    second = session.send("clean it again")
    assert first.tool_calls[0].approved is True and second.tool_calls[0].approved is False
    assert RAN == ["clean /srv/app"] and len(asked) == 2

    agent2, model2 = probe(home, approve=lambda request: True)
    model2.extend([Intent(goal="clean", task_type="ops"), call("clean_workspace", path="/srv/b"), say("ok")])
    assert agent2.session("ada").send("clean b").tool_calls[0].approved is True


def test_an_approver_that_raises_refuses(home: Path) -> None:
    def broken(request: ApprovalRequest) -> bool:
        raise RuntimeError("approval service down")

    agent, model = probe(home, approve=broken)
    model.extend(
        [
            Intent(goal="clean", task_type="ops"),
            call("clean_workspace", path="/srv/app"),
            say("not approved"),
            Extraction(),
        ]
    )
    turn = agent.session("ada").send("clean the workspace")
    assert turn.tool_calls[0].approved is False and RAN == []
