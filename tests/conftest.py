"""Shared fixtures. No test reaches the network: any connection to a non-loopback address
fails, and LLM traffic is a ScriptedModel or a cassette replayed strictly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and not (
        isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost"))
    ):
        raise RuntimeError(f"tests must not reach the network (tried to connect to {address!r})")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh FRAMEWORK_HOME, with the deterministic test embedder and no model configured."""
    root = tmp_path / "home"
    monkeypatch.setenv("FRAMEWORK_HOME", str(root))
    monkeypatch.setenv("FRAMEWORK_EMBEDDER", "hash")
    for var in ("FRAMEWORK_MODEL", "FRAMEWORK_DATABASE_URL", "FRAMEWORK_API_BASE", "FRAMEWORK_WORKING_URL"):
        monkeypatch.delenv(var, raising=False)
    yield root
