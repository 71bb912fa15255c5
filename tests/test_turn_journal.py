"""A turn whose tool already ran keeps its record even if the process dies right after: the
working state (the tool history the gate checks) is saved as soon as the tools have run, before
the memory operations. The process here is killed in the middle of step 6."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from framework import MemoryManager, load_settings

CRASHING_TURN = textwrap.dedent('''
    import os
    from framework import Agent, tool
    from framework.llm.testing import ScriptedModel, call, say
    from framework.steps.intent import Intent

    class Ops(Agent):
        name = "ops"

        @tool
        def deploy_to_staging(self, version: str) -> str:
            """Deploy a version to staging.

            Args:
                version: the version
            """
            return f"staging now runs {version}"

    def die(request):  # the extraction call: the process is killed in step 6
        os._exit(3)

    model = ScriptedModel([Intent(goal="deploy", task_type="deploy", remember=True),
                           call("deploy_to_staging", version="2.0"), say("Staging runs 2.0."), die])
    Ops(model=model, embedder="hash").session("ada", "s1").send("Deploy 2.0 to staging, and remember it")
''')


def test_the_tool_history_survives_a_process_killed_after_the_tools_ran(home: Path) -> None:
    env = {**os.environ, "FRAMEWORK_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", CRASHING_TURN], env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    memory = MemoryManager(load_settings(home), embedder="hash")
    try:
        history = memory.load_state("ada", "s1").tool_history
    finally:
        memory.close()
    assert [(r.name, r.ok, r.arguments) for r in history] == [("deploy_to_staging", True, {"version": "2.0"})]
