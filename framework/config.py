"""Settings, resolved at call time: flag > environment > config file > default.

The config file is `$FRAMEWORK_HOME/config.yaml` (home defaults to ~/.framework). Each resolved
value remembers where it came from, so `framework config` can say why a setting is what it is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from framework.errors import ConfigurationError
from framework.ranking import WEIGHT_RANGES, RankWeights

# setting name -> (environment variable, default)
_SETTINGS: dict[str, tuple[str, Any]] = {
    "model": ("FRAMEWORK_MODEL", None),
    "embedder": ("FRAMEWORK_EMBEDDER", "local"),
    "database_url": ("FRAMEWORK_DATABASE_URL", None),  # None: sqlite file in home
    "working_ttl_s": ("FRAMEWORK_WORKING_TTL_S", 86_400),
    "working_url": ("FRAMEWORK_WORKING_URL", None),  # None: diskcache in home; redis://host:port/db
    "context_tokens": ("FRAMEWORK_CONTEXT_TOKENS", 8_000),
    "max_steps": ("FRAMEWORK_MAX_STEPS", 8),
    "llm_timeout_s": ("FRAMEWORK_LLM_TIMEOUT_S", 60.0),
    "llm_retries": ("FRAMEWORK_LLM_RETRIES", 2),
    "llm_max_tokens": ("FRAMEWORK_LLM_MAX_TOKENS", 2048),
    # The recall's rank weights (framework.ranking.RankWeights), any of them: in
    # config.yaml a mapping (recall_weights: {relevance: 0.7, recency: 0.05}), in the
    # environment "relevance=0.7,recency=0.05".
    "recall_weights": ("FRAMEWORK_RECALL_WEIGHTS", None),
}
_INTS = {"working_ttl_s", "context_tokens", "max_steps", "llm_retries", "llm_max_tokens"}
_FLOATS = {"llm_timeout_s"}


@dataclass(frozen=True)
class Settings:
    home: Path
    model: str | None
    embedder: str
    database_url: str
    working_ttl_s: int
    working_url: str | None
    context_tokens: int
    max_steps: int
    llm_timeout_s: float
    llm_retries: int
    llm_max_tokens: int
    recall_weights: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def config_file(self) -> Path:
        return self.home / "config.yaml"


def resolve_home(home: str | Path | None = None) -> Path:
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("FRAMEWORK_HOME")
    return Path(env).expanduser() if env else Path.home() / ".framework"


def load_settings(home: str | Path | None = None, **flags: Any) -> Settings:
    """Resolve every setting now (never at import). `flags` set to None mean "not given"."""
    unknown = set(flags) - set(_SETTINGS)
    if unknown:
        raise ConfigurationError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(_SETTINGS)}")
    root = resolve_home(home)
    file_values = _read_config_file(root / "config.yaml")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (env_var, default) in _SETTINGS.items():
        if flags.get(name) is not None:
            values[name], sources[name] = flags[name], "flag"
        elif os.environ.get(env_var):
            values[name], sources[name] = os.environ[env_var], f"env {env_var}"
        elif file_values.get(name) is not None:
            values[name], sources[name] = file_values[name], f"file {root / 'config.yaml'}"
        else:
            values[name], sources[name] = default, "default"
        values[name] = _coerce(name, values[name], sources[name])
    if values["database_url"] is None:
        values["database_url"] = f"sqlite:///{root / 'memory.db'}"
    return Settings(home=root, sources=sources, **values)


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "recall_weights":
        return _weights(value, source)
    try:
        if isinstance(value, bool) and (name in _INTS or name in _FLOATS):
            raise ValueError("a boolean is not a number")
        if name in _INTS and value is not None:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            return int(value)
        if name in _FLOATS and value is not None:
            return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"setting {name!r} from {source} must be a number, got {value!r}") from None
    return value


def _weights(value: Any, source: str) -> dict[str, float]:
    """Rank weights by name, each a number >= 0, every name one RankWeights has."""
    if value is None:
        return {}
    if isinstance(value, str):  # the environment's form: name=value,name=value
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ConfigurationError(
                f"setting 'recall_weights' from {source}: expected name=value pairs separated by "
                f"commas (e.g. relevance=0.7,recency=0.05), got {value!r}"
            )
        value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"setting 'recall_weights' from {source}: expected a mapping of weight: number, got {value!r}"
        )
    known = sorted(f.name for f in fields(RankWeights))
    weights: dict[str, float] = {}
    for key, number in value.items():
        if key not in known:
            raise ConfigurationError(
                f"setting 'recall_weights' from {source}: unknown weight {key!r}; known: {known}"
            )
        low, high, shown = WEIGHT_RANGES.get(key, (0.0, math.inf, "a number >= 0"))
        try:
            weights[key] = float(number)
            if isinstance(number, bool) or not (low <= weights[key] <= high and math.isfinite(weights[key])):
                raise ValueError
            if key == "recency_half_life_days" and weights[key] == 0:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"setting 'recall_weights' from {source}: {key} must be {shown}, got {number!r}"
            ) from None
    return weights


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc}); fix or delete the file") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a mapping of setting: value")
    unknown = set(data) - set(_SETTINGS)
    if unknown:
        raise ConfigurationError(f"{path}: unknown setting(s) {sorted(unknown)}; known: {sorted(_SETTINGS)}")
    return data


def shown_url(url: str) -> str:
    """`url` fit for a message or a log: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
