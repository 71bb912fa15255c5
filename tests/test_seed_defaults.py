"""The seed's defaults, configurable per agent: recall leaves out memories less sure than 0.7
(reported as dropped, with the reason, in the recall's explanation; constraints always included),
and the forgetting cycle forgets below 0.3. Real SQLite store; confidences set by SQL, as decay
leaves them."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from framework import Agent
from framework.cli import main
from framework.config import load_settings
from framework.errors import ConfigurationError
from framework.llm.testing import ScriptedModel
from framework.memory.longterm.lifecycle import ForgettingPolicy
from framework.memory.manager import MemoryManager


def manager(home: Path, **kwargs: object) -> MemoryManager:
    return MemoryManager(load_settings(home, embedder="hash"), **kwargs)  # type: ignore[arg-type]


def written(m: MemoryManager, content: str, kind: str, confidence: float) -> int:
    """A memory written through the policy (at 0.9), then left at `confidence` (as decay would)."""
    op = m.remember("ada", content, kind)
    assert op.kind == "write" and op.memory_id is not None
    with m.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE memory SET confidence = ? WHERE id = ?", (confidence, op.memory_id))
    return op.memory_id


def test_recall_leaves_out_what_is_less_sure_than_the_seeds_threshold_and_says_so(tmp_path: Path) -> None:
    m = manager(tmp_path)
    unsure = written(m, "Ada keeps bees on the roof", "fact", 0.6)
    sure = written(m, "Ada keeps a bee journal", "fact", 0.8)
    faded = written(m, "Ada likes honey tea", "preference", 0.55)
    rule = written(m, "Never move the bee hives at night", "constraint", 0.5)
    found = m.recall("ada", "bees bee hives honey")
    relevant = {r.memory.id for r in found.relevant}
    assert sure in relevant and unsure not in relevant
    assert found.dropped[unsure] == "confidence 0.60 < 0.70"
    assert found.dropped[faded] == "confidence 0.55 < 0.70"
    assert faded not in {p.id for p in found.preferences}
    assert rule in {c.id for c in found.constraints}  # a rule is never faded out
    assert f"dropped #{unsure}: confidence 0.60 < 0.70" in found.explain()
    m.close()


def test_an_agent_sets_its_own_threshold(tmp_path: Path) -> None:
    class Trusting(Agent):
        name = "trusting"
        recall_min_confidence: ClassVar[float] = 0.5

    agent = Trusting(model=ScriptedModel(), home=tmp_path, embedder="hash")
    unsure = written(agent.memory, "Ada keeps bees on the roof", "fact", 0.6)
    found = agent.memory.recall("ada", "bees on the roof")
    assert unsure in {r.memory.id for r in found.relevant} and unsure not in found.dropped
    agent.close()


@pytest.mark.parametrize("bad", [1.5, -0.1, "high", True])
def test_a_bad_threshold_is_refused_naming_the_setting(tmp_path: Path, bad: object) -> None:
    with pytest.raises(
        ConfigurationError, match=r"recall_min_confidence: expected a confidence between 0 and 1"
    ):
        manager(tmp_path, recall_min_confidence=bad)


def test_the_forgetting_cycle_forgets_below_the_seeds_floor_unless_the_agent_says_otherwise(
    tmp_path: Path,
) -> None:
    m = manager(tmp_path)
    low = written(m, "Ada once visited Oslo", "fact", 0.25)
    kept = manager(tmp_path / "other", forgetting=ForgettingPolicy(floor=0.2))
    also_low = written(kept, "Ada once visited Oslo", "fact", 0.25)
    assert m.forget_cycle("ada").pruned == [low]
    assert kept.forget_cycle("ada").pruned == []
    assert [e.id for e in kept.long_term.active("ada")] == [also_low]
    m.close()
    kept.close()


@pytest.mark.parametrize(
    ("field", "value"), [("floor", 1.2), ("floor", "low"), ("half_life_days", 0), ("grace_days", -3)]
)
def test_a_bad_forgetting_policy_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=rf"ForgettingPolicy\.{field}: expected"):
        ForgettingPolicy(**{field: value})  # type: ignore[arg-type]


def test_the_forget_cycle_command_takes_the_agents_policy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    m = manager(home)
    written(m, "Ada once visited Oslo", "fact", 0.25)
    m.close()
    agent_file = tmp_path / "lenient.py"
    agent_file.write_text(
        "from framework import Agent\n"
        "from framework.memory.longterm.lifecycle import ForgettingPolicy\n\n"
        "class Lenient(Agent):\n"
        "    name = 'lenient'\n"
        "    forgetting = ForgettingPolicy(floor=0.1)\n"
    )
    runner = CliRunner()
    env = {"FRAMEWORK_HOME": str(home), "FRAMEWORK_EMBEDDER": "hash"}
    lenient = runner.invoke(
        main, ["memory", "forget-cycle", "--dry-run", "--agent", str(agent_file)], env=env
    )
    assert lenient.exit_code == 0 and "pruned 0" in lenient.output
    seed = runner.invoke(main, ["memory", "forget-cycle", "--dry-run"], env=env)
    assert seed.exit_code == 0 and "pruned 1" in seed.output
