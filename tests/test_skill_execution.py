"""Skills that act: the intent names a skill, the executor walks its steps through the loop with
every tool call gated, and a failed step stops the skill with its number and error."""

from __future__ import annotations

import json
from pathlib import Path

from agents.devops import DevOps
from framework.llm.testing import ScriptedModel, ScriptedRequest, call, say
from framework.memory.governance.candidates import Extraction
from framework.steps.intent import Intent


def ship(version: str) -> list[object]:
    return [
        Intent(goal=f"ship {version}", task_type="deploy", memory_query="deploy"),
        call("use_skill", name="safe_deployment"),  # chosen in the answer request
        call("deploy_to_staging", version=version),
        say("Staged."),
        call("run_smoke_tests", environment="staging"),
        say("Smoke tests passed."),
        call("deploy_to_production", version=version),
        say("In production."),
        call("run_smoke_tests", environment="production"),
        say(f"{version} is live and healthy."),
    ]


def test_the_answer_request_offers_the_skills_and_the_executor_walks_every_step(home: Path) -> None:
    model = ScriptedModel(ship("3.0"))  # type: ignore[arg-type]
    agent = DevOps(model=model, embedder="hash")
    turn = agent.session("ops", "s").send("Ship 3.0 to production")
    state = agent.memory.working.load("ops", "s")
    audit = [a for a in agent.memory.long_term.history("ops") if a.operation == "gate"]
    agent.close()
    model.assert_consumed()

    # the first request is the answer request: it offers the walkable skills as `use_skill`
    first = model.requests[0]
    assert first.kind == "complete"
    [offer] = [t["function"] for t in first.tools or [] if t["function"]["name"] == "use_skill"]
    assert offer["parameters"]["properties"]["name"]["enum"] == ["safe_deployment"]
    assert "safe_deployment: The user asks to deploy" in offer["description"]
    assert not any(t["function"]["name"] == "use_skill" for t in model.requests[1].tools or [])
    steps = [
        r.messages[-1].content or ""
        for r in model.requests
        if r.kind == "complete" and (r.messages[-1].content or "").startswith("[skill")
    ]
    assert [s.split("]")[0] for s in steps] == [
        f"[skill safe_deployment v1, step {n} of 4" for n in (1, 2, 3, 4)
    ]
    assert turn.skill.completed == [1, 2, 3, 4] and turn.skill.failed_step is None
    assert turn.answer == "3.0 is live and healthy." and turn.error is None
    assert [t.verdict for t in turn.tool_calls] == ["allow"] * 4
    assert state.phase == "skill safe_deployment completed" and state.pending_actions == []
    assert len(state.completed_steps) == 4 and state.goal == "ship 3.0"
    # the production deploy passed the staging-first policy; the audit says which version decided
    assert [(a.detail["tool"], a.detail["policies"]) for a in audit] == [
        ("deploy_to_production", ["staging_first_deployment@2"])
    ]


def test_a_failed_step_stops_the_skill_with_its_number(home: Path) -> None:
    env = home / "devops-environment.json"
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(
        json.dumps(
            {
                "staging": None,
                "production": None,
                "smoke_tested": [],
                "broken": ["3.1"],
                "files": [],
                "shell_log": [],
            }
        )
    )

    def report(req: ScriptedRequest) -> object:
        return say("Smoke tests failed: " + (req.messages[-1].content or ""))

    model = ScriptedModel(
        [
            Intent(goal="ship 3.1", task_type="deploy", memory_query="deploy"),
            call("use_skill", name="safe_deployment"),  # chosen in the answer request
            call("deploy_to_staging", version="3.1"),
            say("Staged."),
            call("run_smoke_tests", environment="staging"),
            report,
            Extraction(),  # a failed turn is worth an extraction
        ]
    )  # type: ignore[list-item]
    agent = DevOps(model=model, embedder="hash")
    turn = agent.session("ops", "s").send("Ship 3.1")
    agent.close()
    model.assert_consumed()
    assert turn.skill.completed == [1] and turn.skill.failed_step == 2
    assert turn.error == (
        "skill safe_deployment@1 stopped at step 2: run_smoke_tests: FAILED: smoke tests "
        "failed on staging (3.1): 3 of 12 checks red"
    )
    assert turn.outcome.status == "failure"
    assert "deploy_to_production" not in [t.name for t in turn.tool_calls]  # never reached step 3


def test_a_skill_without_tools_is_guidance_not_executed(home: Path) -> None:
    model = ScriptedModel([Intent(goal="review", task_type="review"), say("Looks good.")])
    agent = DevOps(model=model, embedder="hash")
    turn = agent.session("ops").send("Review my diff")
    agent.close()
    model.assert_consumed()
    assert turn.skill is None and turn.answer == "Looks good."
    # a skill without tools is guidance in the prompt, never offered to walk
    [offer] = [t["function"] for t in model.requests[0].tools or [] if t["function"]["name"] == "use_skill"]
    assert "code_review" not in offer["parameters"]["properties"]["name"]["enum"]
