"""The governance benchmark runs its scripted conversation end to end and meets its targets."""

from framework.bench.governance import measure


def test_governance_bench_meets_the_call_budget() -> None:
    result = measure()
    assert result["errors"] == []
    assert result["turns"] == 50 and result["trivial_turns"] == 9
    assert result["calls_per_trivial_turn"] == 0.0
    assert 0 < result["calls_per_nontrivial_turn"] <= 1.0
    assert result["tokens_per_turn"] > 0
    # what the scripted week contains: 3 secrets, 2 speculations, 1 transient remark, 1 low-confidence
    assert result["rejected"] == {"low confidence": 1, "sensitive": 3, "speculative": 2, "transient": 1}
    assert (result["reinforced"], result["superseded"], result["forgotten"]) == (3, 4, 2)
    assert result["written"] == 13
