"""`framework doctor`: one line per check, what to fix, exit code 1 when something fails — checked
against a real model server on loopback, a store, an unreachable Redis and loose permissions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_llm_server import FakeLLMServer

from framework.cli import main


def doctor(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        main,
        ["doctor", "--home", str(home), "--embedder", "hash", "--json", *args],
        env=env,
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def statuses(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["name"]: c["status"] for c in report["checks"]}


def test_a_healthy_setup_with_a_real_model_server(tmp_path: Path) -> None:
    with FakeLLMServer() as server:
        code, report = doctor(
            tmp_path,
            "--model",
            "openai/fake",
            env={"FRAMEWORK_API_BASE": server.url, "OPENAI_API_KEY": "sk-x"},
        )
        assert len(server.requests) == 1  # one tiny call
    assert code == 0 and report["ok"]
    assert statuses(report) == {
        "configuration": "ok",
        "model": "ok",
        "embedder": "ok",
        "long-term store": "ok",
        "working memory": "ok",
        "permissions": "ok",
    }


def test_a_missing_key_and_an_unreachable_redis_fail_with_their_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("FRAMEWORK_API_BASE", raising=False)
    code, report = doctor(
        tmp_path,
        "--model",
        "openai/gpt-4o-mini",
        env={"FRAMEWORK_WORKING_URL": "redis://:hunter2@127.0.0.1:1/0"},
    )
    assert code == 1 and not report["ok"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["model"]["status"] == "fail" and "OPENAI_API_KEY" in checks["model"]["detail"]
    redis = checks["working memory"]
    assert (
        redis["status"] == "fail" and "127.0.0.1:1" in redis["detail"] and "hunter2" not in json.dumps(report)
    )
    assert "FRAMEWORK_WORKING_URL" in redis["detail"] + redis["fix"]


def test_files_others_can_read_are_warned_about(tmp_path: Path) -> None:
    doctor(tmp_path)  # creates the store
    os.chmod(tmp_path / "memory.db", 0o644)
    code, report = doctor(tmp_path)
    warned = [c for c in report["checks"] if c["status"] == "warn" and c["name"].startswith("permissions")]
    assert code == 0 and warned and "chmod go-rwx" in warned[0]["fix"]
