"""A DevOps agent acting on a simulated environment (a JSON file in FRAMEWORK_HOME), never on
the real machine. Shows the policy gate (staging first, approval for destructive commands) and
outcome learning."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from framework import Agent, ToolFailure, tool


class DevOps(Agent):
    name = "devops"
    instructions = (
        "You are a careful DevOps engineer. Deploy to staging and run smoke tests before any "
        "production deploy. Never run destructive commands without approval."
    )
    skills = "../skills"
    policies = "../policies"

    # --- the simulated environment ----------------------------------------------------------
    @property
    def environment_file(self) -> Path:
        return self.settings.home / "devops-environment.json"

    def environment(self) -> dict[str, Any]:
        if self.environment_file.exists():
            return dict(json.loads(self.environment_file.read_text()))
        return {
            "staging": None,
            "production": None,
            "smoke_tested": [],
            "broken": [],
            "files": ["app.log", "data.db", "config.yaml"],
            "shell_log": [],
        }

    def _save(self, env: dict[str, Any]) -> None:
        self.environment_file.parent.mkdir(parents=True, exist_ok=True)
        self.environment_file.write_text(json.dumps(env, indent=2))

    # --- tools --------------------------------------------------------------------------------
    @tool
    def deploy_to_staging(self, version: str) -> str:
        """Deploy a version of the service to the staging environment.

        Args:
            version: the version to deploy, e.g. "1.4.2"
        """
        env = self.environment()
        env["staging"] = version
        self._save(env)
        return f"staging now runs {version}"

    @tool
    def run_smoke_tests(self, environment: str = "staging") -> str:
        """Run the smoke tests against an environment.

        Args:
            environment: staging or production
        """
        env = self.environment()
        version = env.get(environment)
        if version is None:
            raise ToolFailure(f"nothing is deployed to {environment}")
        if version in env["broken"]:
            raise ToolFailure(f"smoke tests failed on {environment} ({version}): 3 of 12 checks red")
        env["smoke_tested"].append(version)
        self._save(env)
        return f"12 of 12 smoke tests passed on {environment} ({version})"

    @tool
    def deploy_to_production(self, version: str) -> str:
        """Deploy a version of the service to production.

        Args:
            version: the version to deploy; it should have passed smoke tests on staging
        """
        env = self.environment()
        env["production"] = version
        self._save(env)
        if version not in env["smoke_tested"]:
            raise ToolFailure(f"production is down: {version} was never smoke-tested (outage)")
        return f"production now runs {version}"

    @tool
    def run_shell(self, command: str) -> str:
        """Run a shell command on the (simulated) deployment host.

        Args:
            command: the command line
        """
        env = self.environment()
        env["shell_log"].append(command)
        words = shlex.split(command)
        if words[:1] == ["ls"]:
            out = " ".join(env["files"])
        elif words[:1] == ["rm"]:
            targets = [w for w in words[1:] if not w.startswith("-")]
            env["files"] = [f for f in env["files"] if f not in targets and "*" not in targets]
            out = f"removed {', '.join(targets)}"
        elif words[:1] == ["echo"]:
            out = " ".join(words[1:])
        else:
            out = f"(simulated) ran: {command}"
        self._save(env)
        return out
