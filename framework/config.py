"""Settings, resolved at call time: flag > environment > config file > default.

The config file is `$FRAMEWORK_HOME/config.yaml` (home defaults to ~/.framework). Each resolved
value remembers where it came from, so `framework config` can say why a setting is what it is.
What the framework creates under its home is owner-only (`private_dir`, `private_file`), and a
secret setting is a `Secret`, which never prints its value.
"""

from __future__ import annotations

import hmac
import math
import os
import re
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framework.errors import ConfigurationError
from framework.ranking import WEIGHT_RANGES, RankWeights
from framework.yaml_files import YamlFileError, did_you_mean, read_yaml, shown

# setting name -> (environment variable, default)
_SETTINGS: dict[str, tuple[str, Any]] = {
    "model": ("FRAMEWORK_MODEL", None),
    "embedder": ("FRAMEWORK_EMBEDDER", "local"),
    "database_url": ("FRAMEWORK_DATABASE_URL", None),  # None: sqlite file in home
    "working_ttl_s": ("FRAMEWORK_WORKING_TTL_S", 86_400),
    "working_url": ("FRAMEWORK_WORKING_URL", None),  # None: diskcache in home; redis://host:port/db
    "context_tokens": ("FRAMEWORK_CONTEXT_TOKENS", 8_000),
    "max_steps": ("FRAMEWORK_MAX_STEPS", 8),
    "llm_timeout_s": ("FRAMEWORK_LLM_TIMEOUT_S", 30.0),  # one attempt (cut to what the deadline leaves)
    "llm_deadline_s": ("FRAMEWORK_LLM_DEADLINE_S", 60.0),  # one call, all its attempts and waits
    "llm_retries": ("FRAMEWORK_LLM_RETRIES", 2),
    "llm_max_tokens": ("FRAMEWORK_LLM_MAX_TOKENS", 2048),
    "max_message_chars": ("FRAMEWORK_MAX_MESSAGE_CHARS", 200_000),  # a longer message is refused
    # A turn's memory work (intent, extraction, contradiction checks, confidence, summary) runs
    # after its answer: "background" (worker threads; the answer returns at once) or "inline" (in
    # the turn's thread, before send returns: scripts, batch ingestion, deterministic tests).
    "memory_work": ("FRAMEWORK_MEMORY_WORK", "background"),
    "memory_wait_s": ("FRAMEWORK_MEMORY_WAIT_S", 30.0),
    # How structured outputs are asked for (instructor's mode): auto (tool calling where the model
    # has it, else a JSON schema response format, else JSON in a markdown block), or one of those.
    "structured_mode": ("FRAMEWORK_STRUCTURED_MODE", "auto"),  # how long a user's next turn waits for it
    # The recall's rank weights (framework.ranking.RankWeights), any of them: in
    # config.yaml a mapping (recall_weights: {relevance: 0.7, recency: 0.05}), in the
    # environment "relevance=0.7,recency=0.05".
    "recall_weights": ("FRAMEWORK_RECALL_WEIGHTS", None),
    # Encryption at rest (framework.memory.encryption): the SQLite store through SQLCipher, working
    # memory's values with AES-GCM. The secret itself, or a file holding it (one of the two).
    "encryption_key": ("FRAMEWORK_ENCRYPTION_KEY", None),
    "encryption_key_file": ("FRAMEWORK_ENCRYPTION_KEY_FILE", None),
}
_EMBEDDERS = r"local|hash(-\d+)?|(local|litellm):.+"  # what framework.embeddings.resolve_embedder takes
_INTS = {"working_ttl_s", "context_tokens", "max_steps", "llm_retries", "llm_max_tokens", "max_message_chars"}
_FLOATS = {"llm_timeout_s", "llm_deadline_s", "memory_wait_s"}
_CHOICES = {
    "memory_work": ("background", "inline"),
    "structured_mode": ("auto", "tools", "json_schema", "md_json"),
}
MIN_KEY_CHARS = 16  # a shorter secret is a password to guess, not a key
_NEW_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"


class Secret:
    """A secret setting's value. repr and str show *** (so `framework config`, a log line or an
    error message never print it); the code that uses it calls `reveal()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))


class StoreURL(str):
    """A database URL with the secret that opens the store attached, not in its text: printing or
    logging the URL never shows it, and whatever opens the store from `settings.database_url`
    (framework.memory.longterm.backends) finds it with `encryption_key_of`."""

    encryption_key: Secret | None

    def __new__(cls, url: str, encryption_key: Secret | None) -> StoreURL:
        made = super().__new__(cls, url)
        made.encryption_key = encryption_key
        return made


def encryption_key_of(url: str) -> Secret | None:
    """The encryption secret that came with a store URL from the settings (None: plaintext)."""
    return getattr(url, "encryption_key", None)


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
    llm_deadline_s: float
    llm_retries: int
    llm_max_tokens: int
    max_message_chars: int
    memory_work: str
    memory_wait_s: float
    structured_mode: str
    recall_weights: dict[str, float]
    encryption_key: Secret | None = None  # resolved: given, or read from encryption_key_file
    encryption_key_file: Path | None = None
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
    values["encryption_key"], sources["encryption_key"] = _encryption_key(values, sources)
    if values["encryption_key"] is not None:
        values["database_url"] = StoreURL(values["database_url"], values["encryption_key"])
    return Settings(home=root, sources=sources, **values)


def _encryption_key(values: dict[str, Any], sources: dict[str, str]) -> tuple[Secret | None, str]:
    """The secret (given, or read from encryption_key_file) and where it came from; errors name
    the setting, never the secret."""
    key, path = values["encryption_key"], values["encryption_key_file"]
    source = sources["encryption_key"]
    if key is not None and path is not None:
        raise ConfigurationError(
            f"settings 'encryption_key' (from {source}) and 'encryption_key_file' (from "
            f"{sources['encryption_key_file']}) are both set: set one of them"
        )
    if path is not None:
        source = f"{sources['encryption_key_file']} via encryption_key_file"
        try:
            key = Secret(path.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"setting 'encryption_key_file' from {sources['encryption_key_file']}: cannot read "
                f"{path} ({getattr(exc, 'strerror', None) or exc})"
            ) from None
    if key is not None and len(key) < MIN_KEY_CHARS:
        name = "encryption_key_file" if path is not None else "encryption_key"
        raise ConfigurationError(
            f"setting {name!r} from {source}: the key has {len(key)} characters, fewer than "
            f"{MIN_KEY_CHARS}; use a random one, e.g. {_NEW_KEY}"
        )
    return key, source


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "recall_weights":
        return _weights(value, source)
    if name == "encryption_key" and value is not None:
        return Secret(str(value).strip())
    if name == "encryption_key_file" and value is not None:
        return Path(str(value)).expanduser()
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
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ConfigurationError(
            f"setting {name!r} from {source} must be one of {', '.join(_CHOICES[name])}, got {value!r}"
        )
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
    """config.yaml's settings, read safely (framework.yaml_files: size cap, UTF-8, no aliases) and
    checked here, so that an error names the file and the line of the key or value at fault."""
    if not path.exists():
        return {}
    try:
        doc = read_yaml(path)
    except YamlFileError as exc:
        raise ConfigurationError(f"{exc}; fix or delete the file") from None
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigurationError(f"{doc.where()}: expected a mapping of setting: value")
    for name, value in data.items():
        if name not in _SETTINGS:
            hint = did_you_mean(name, _SETTINGS)
            raise ConfigurationError(
                f"{doc.where([name], key=True)}: unknown setting {shown(name)}{hint}; "
                f"known: {', '.join(sorted(_SETTINGS))}"
            )
        if value is None:
            continue
        if name not in _INTS | _FLOATS | {"recall_weights"} and not isinstance(value, str):
            got = type(value).__name__  # not the value: it may be a secret
            raise ConfigurationError(f"{doc.where([name])}: setting {name!r} must be text, got a {got}")
        if name == "embedder" and not re.fullmatch(_EMBEDDERS, value):  # framework.embeddings' forms
            raise ConfigurationError(
                f"{doc.where([name])}: setting 'embedder': {shown(value)} is not one of: local, hash, "
                "litellm:<model>"
            )
        if name == "recall_weights" and isinstance(value, dict):  # each weight's error names its line
            for weight, number in value.items():
                _weights({weight: number}, f"file {doc.where([name, weight])}")
        _coerce(name, value, f"file {doc.where([name])}")  # a bad value's error names its line
    return data


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """`path` as an owner-only folder (0700), whatever the umask: each missing folder is created
    so (parents too); an existing one is tightened (group and others lose their access) when
    `tighten`, which is for the framework's own folders (logs/, working/), not a home it was given.
    The process umask is never changed: it is shared by every thread."""
    missing, folder = [], path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, 0o700)
    if tighten and not missing:
        _tighten(path)
    return path


def private_file(path: Path) -> Path:
    """`path` as an owner-only file (0600), whatever the umask: created empty if missing, else
    tightened. Files SQLite makes beside a database (-wal, -shm) take the database's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten(path)
    else:
        os.fchmod(fd, 0o600)
        os.close(fd)
    return path


def _tighten(path: Path) -> None:
    """Take group's and others' access away from an existing file or folder of the framework's (a
    file it does not own is left as it is: chmod would fail)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except (FileNotFoundError, PermissionError):
        pass


def shown_url(url: str) -> str:
    """`url` fit for a message or a log: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
