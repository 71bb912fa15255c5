"""`framework doctor`: check that everything an agent needs is there, and say what to fix.

One line per check — configuration (where each setting came from), the model (its key, then one
tiny call), the embedder, the long-term store, working memory, and the home folder's permissions —
each ok, warn or fail. Exit code 1 when any check fails."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from framework.cli.options import common


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@click.command()
@click.option("--model", default=None, help="the model to check (default: the configured one)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@common
def doctor(model: str | None, as_json: bool, home: str | None, embedder: str | None) -> None:
    """Check configuration, model, embedder, stores and file permissions; print what to fix."""
    from framework.cli.chat import quiet_dependencies

    quiet_dependencies()
    checks = run_checks(home, model=model, embedder=embedder)
    if as_json:
        click.echo(
            json.dumps(
                {"ok": not any(c.status == "fail" for c in checks), "checks": [asdict(c) for c in checks]}
            )
        )
    else:
        colours = {"ok": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            fix = f" — fix: {c.fix}" if c.fix else ""
            click.echo(click.style(f"{c.status:<5}", fg=colours[c.status]) + f"{c.name}: {c.detail}{fix}")
    if any(c.status == "fail" for c in checks):
        raise SystemExit(1)


def run_checks(home: str | None, *, model: str | None = None, embedder: str | None = None) -> list[Check]:
    from framework.config import load_settings
    from framework.errors import FrameworkError

    try:
        settings = load_settings(home, model=model, embedder=embedder)
    except FrameworkError as exc:
        return [Check("configuration", "fail", str(exc), "correct the setting it names")]
    sources = settings.sources
    shown = ", ".join(
        f"{k} from {sources.get(k, 'default')}" for k in ("model", "embedder", "database_url", "working_url")
    )
    checks = [Check("configuration", "ok", f"home {settings.home}; {shown}")]
    checks += _permissions(settings.home)  # before the stores open (opening one tightens its mode)
    checks.append(_attempt("model", lambda: _model(settings)))
    checks.append(_attempt("embedder", lambda: _embedder(settings.embedder)))
    checks.append(_attempt("long-term store", lambda: _store(settings.database_url)))
    checks.append(_attempt("working memory", lambda: _working(settings)))
    return checks


def _attempt(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # every failure is a line of the report, never a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check(name, "fail", f"{type(exc).__name__}: {first}", _FIXES.get(name, ""))


_FIXES = {
    "embedder": "set embedder (FRAMEWORK_EMBEDDER): local needs the [local] extra; hash needs nothing",
    "long-term store": "check database_url (FRAMEWORK_DATABASE_URL) and that the server is up",
    "working memory": "start Redis, or unset working_url (FRAMEWORK_WORKING_URL) to use diskcache",
}


def _model(settings: Any) -> Check:
    from framework.cli.chat import check_model_ready
    from framework.errors import ModelNotConfigured
    from framework.llm import LiteLLMModel, resolve_model
    from framework.llm.messages import Message

    if not settings.model:
        return Check(
            "model", "warn", "none configured (an agent class may name one)", "set --model or FRAMEWORK_MODEL"
        )
    llm = resolve_model(settings.model, timeout_s=10, deadline_s=15, retries=0, max_tokens=1)
    try:
        check_model_ready(llm)
    except ModelNotConfigured as exc:
        return Check("model", "fail", str(exc))
    if not isinstance(llm, LiteLLMModel):
        return Check("model", "ok", f"{llm.name} (not called: a scripted model)")
    started = time.perf_counter()
    try:
        llm.complete([Message("user", "Say ok.")])
    except Exception as exc:
        return Check("model", "fail", f"{llm.name}: {' '.join(str(exc).split())}")
    return Check("model", "ok", f"{llm.name} answered in {(time.perf_counter() - started) * 1000:.0f} ms")


def _embedder(spec: str) -> Check:
    from framework.embeddings import resolve_embedder

    started = time.perf_counter()
    embedder = resolve_embedder(spec)
    vector = embedder.embed(["framework doctor"])[0]
    return Check(
        "embedder",
        "ok",
        f"{embedder.name}: {len(vector)} dimensions, {(time.perf_counter() - started):.1f} s to load",
    )


def _store(url: Any) -> Check:
    from framework.config import shown_url
    from framework.memory.longterm.migrations import open_engine

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    return Check("long-term store", "ok", f"{shown_url(str(url))} opens")


def _working(settings: Any) -> Check:
    from framework.memory.working.factory import open_working_store

    store = open_working_store(settings)
    store.close()
    where = "Redis" if settings.working_url else "diskcache"
    return Check("working memory", "ok", f"{where} opens")


def _permissions(home: Path) -> list[Check]:
    """What is kept about users must be readable by their owner only."""
    checks = []
    for path in [home, home / "memory.db", home / "working", home / "logs"]:
        if not path.exists():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            checks.append(
                Check(
                    f"permissions {path.name or path}",
                    "warn",
                    f"{path} is {oct(mode)}: others can read it",
                    f"chmod go-rwx {path}",
                )
            )
    if not checks:
        checks.append(Check("permissions", "ok", f"{home}: the owner's only"))
    return checks
