"""load_settings: flag > environment > config file > default, and errors that name the culprit."""

from pathlib import Path

import pytest

from framework.config import load_settings
from framework.errors import ConfigurationError


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAMEWORK_EMBEDDER")
    s = load_settings()
    assert (s.model, s.embedder, s.working_ttl_s, s.max_steps) == (None, "local", 86_400, 8)
    assert s.home == home
    assert s.database_url == f"sqlite:///{home / 'memory.db'}"
    assert s.sources["model"] == s.sources["working_ttl_s"] == "default"


def test_each_layer_overrides_the_one_below(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(home, "model: file-model\nembedder: hash-64\nworking_ttl_s: 300\nmax_steps: 3\n")
    monkeypatch.setenv("FRAMEWORK_MODEL", "env-model")
    monkeypatch.setenv("FRAMEWORK_WORKING_TTL_S", "600")
    s = load_settings(model="flag-model", max_steps=None)  # None means "not given"

    assert s.model == "flag-model" and s.sources["model"] == "flag"
    assert s.working_ttl_s == 600 and s.sources["working_ttl_s"] == "env FRAMEWORK_WORKING_TTL_S"
    assert s.max_steps == 3 and s.sources["max_steps"] == f"file {config}"
    assert s.embedder == "hash" and s.sources["embedder"] == "env FRAMEWORK_EMBEDDER"  # fixture env
    assert s.context_tokens == 8_000 and s.sources["context_tokens"] == "default"


def test_file_beats_default_and_zero_is_a_real_value(home: Path) -> None:
    write_config(home, "llm_retries: 0\nllm_timeout_s: 2.5\n")
    s = load_settings()
    assert s.llm_retries == 0 and s.sources["llm_retries"].startswith("file ")
    assert s.llm_timeout_s == 2.5


def test_explicit_home_argument_wins_over_env(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_config(other, "model: from-other-home\n")
    assert load_settings(other).model == "from-other-home"


def test_unknown_key_in_config_file_names_file_and_key(home: Path) -> None:
    path = write_config(home, "model: m\ncolour: blue\n")
    with pytest.raises(ConfigurationError) as exc:
        load_settings()
    assert str(path) in str(exc.value) and "colour" in str(exc.value)


def test_bad_yaml_names_the_file(home: Path) -> None:
    path = write_config(home, "model: [unclosed\n")
    with pytest.raises(ConfigurationError, match="not valid YAML") as exc:
        load_settings()
    assert str(path) in str(exc.value)


def test_non_mapping_config_file_is_rejected(home: Path) -> None:
    path = write_config(home, "- just\n- a list\n")
    with pytest.raises(ConfigurationError, match="mapping") as exc:
        load_settings()
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("where", ["env", "file", "flag"])
def test_non_number_for_int_setting_names_the_setting(
    home: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    flags = {}
    if where == "env":
        monkeypatch.setenv("FRAMEWORK_MAX_STEPS", "many")
    elif where == "file":
        write_config(home, "max_steps: many\n")
    else:
        flags["max_steps"] = "many"
    with pytest.raises(ConfigurationError, match="'max_steps'.*must be a number"):
        load_settings(**flags)


def test_unknown_flag_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="temprature"):
        load_settings(temprature=0.1)


def test_settings_are_read_at_call_time(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().model is None
    monkeypatch.setenv("FRAMEWORK_MODEL", "later")
    assert load_settings().model == "later"


def test_recall_weights_come_from_the_config_file_or_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framework.memory.manager import MemoryManager

    assert load_settings().recall_weights == {}
    write_config(home, "recall_weights:\n  relevance: 0.7\n  recency: 0\n  subject: 0.5\n")
    assert load_settings().recall_weights == {"relevance": 0.7, "recency": 0.0, "subject": 0.5}
    manager = MemoryManager(load_settings(), embedder="hash")
    weights = manager.long_term.retrieval.weights
    manager.close()
    assert (weights.relevance, weights.recency, weights.subject, weights.confidence) == (0.7, 0.0, 0.5, 0.2)

    monkeypatch.setenv("FRAMEWORK_RECALL_WEIGHTS", "context=0, time = 1.5")
    s = load_settings()
    assert s.recall_weights == {"context": 0.0, "time": 1.5}
    assert s.sources["recall_weights"] == "env FRAMEWORK_RECALL_WEIGHTS"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "recall_weights:\n  relevence: 0.7\n",
            "unknown weight 'relevence'; known: ['common_share', 'confidence', ",
        ),
        ("recall_weights:\n  recency: -1\n", "recency must be a number >= 0, got -1"),
        ("recall_weights:\n  recency: lots\n", "recency must be a number >= 0, got 'lots'"),
        ("recall_weights: 0.5\n", "expected a mapping of weight: number, got 0.5"),
        ("recall_weights:\n  recency_half_life_days: 0\n", "must be a number of days > 0, got 0"),
        ("recall_weights:\n  lexical_share: 3\n", "lexical_share must be a share between 0 and 1"),
        ("recall_weights:\n  min_similarity: .inf\n", "must be a cosine similarity between -1 and 1"),
        ("recall_weights:\n  subject: .nan\n", "subject must be a number >= 0, got nan"),
    ],
)
def test_bad_recall_weights_name_the_file_and_the_weight(home: Path, text: str, expected: str) -> None:
    config = write_config(home, text)
    with pytest.raises(ConfigurationError) as exc:
        load_settings()
    line = 1 if text.startswith("recall_weights: ") else 2  # the line of the weight at fault
    assert f"setting 'recall_weights' from file {config}:{line}: " in str(exc.value)
    assert expected in str(exc.value)


def test_recall_weights_in_the_environment_must_be_pairs(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_RECALL_WEIGHTS", "relevance 0.7")
    with pytest.raises(ConfigurationError, match="expected name=value pairs separated by commas"):
        load_settings()
