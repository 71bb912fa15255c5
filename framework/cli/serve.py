"""`framework serve`: an agent as an HTTP service (OpenAI-compatible chat, memory over REST), run by
uvicorn with one or several worker processes (framework.serve.http_app)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from framework.cli.options import agent_option, common, load_agent_class


@click.command()
@agent_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="worker processes; several share the store and working memory (use PostgreSQL + Redis)",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="the address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--model", default=None, help="any litellm model string (default: FRAMEWORK_MODEL)")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option("--access-log", is_flag=True, help="log every request (uvicorn's access log)")
@common
def serve(
    agent_spec: str,
    workers: int,
    host: str,
    port: int,
    model: str | None,
    log_level: str,
    access_log: bool,
    home: str | None,
    embedder: str | None,
) -> None:
    """Serve an agent over HTTP: POST /v1/chat/completions (OpenAI-compatible, streaming or not),
    the user's memory over REST, /health, and the API's docs at /docs.

    \b
    Each request's user comes from its API key (Authorization: Bearer fwk_...); create keys with
    `framework keys create --user ID`. The service refuses to start without one.
    Several workers: FRAMEWORK_DATABASE_URL=postgresql://... FRAMEWORK_WORKING_URL=redis://...
    """
    try:
        import uvicorn

        from framework.serve import http_app
    except ImportError as exc:
        raise click.ClickException(
            f"framework serve needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'framework[serve]'"
        ) from None
    from framework.cli.chat import one_line_errors, quiet_dependencies
    from framework.config import load_settings, shown_url
    from framework.errors import ModelNotConfigured
    from framework.serve.keys import open_keys

    quiet_dependencies()
    cls = load_agent_class(agent_spec)  # a bad --agent is refused here, not in every worker
    spec = str(Path(agent_spec).resolve()) if agent_spec.endswith(".py") else agent_spec
    # Workers are new processes: they read the agent and the settings from the environment.
    for variable, value in {
        http_app.AGENT_ENV: spec,
        "FRAMEWORK_HOME": home,
        "FRAMEWORK_EMBEDDER": embedder,
        "FRAMEWORK_MODEL": model,
    }.items():
        if value is not None:
            os.environ[variable] = str(Path(value).resolve()) if variable == "FRAMEWORK_HOME" else value
    with one_line_errors(debug=False):
        settings = load_settings()
        if not (settings.model if settings.sources.get("model") != "default" else cls.model):
            raise ModelNotConfigured(
                f"agent {cls.name!r} has no model: pass --model (e.g. openai/gpt-4o-mini) or set "
                "FRAMEWORK_MODEL"
            )
        keys = open_keys(settings)  # the store opens, migrated, now: a bad database URL stops here
        count = http_app.active_keys(keys)
        keys.engine.dispose()
    if not count:
        raise click.ClickException(
            "no active API key in the memory store, so no request could be served: create one with "
            "`framework keys create --user ID` (same --home / FRAMEWORK_DATABASE_URL), then start again"
        )
    store = shown_url(settings.database_url)
    working = shown_url(settings.working_url) if settings.working_url else f"diskcache in {settings.home}"
    click.echo(
        f"serving agent {cls.name!r} at http://{host}:{port} ({workers} worker(s)); docs at /docs\n"
        f"  store: {store}\n  working memory: {working}",
        err=True,
    )
    if workers > 1 and not settings.working_url:
        click.echo(
            "  note: workers share diskcache and the store on this machine only; for several machines "
            "use PostgreSQL (FRAMEWORK_DATABASE_URL) and Redis (FRAMEWORK_WORKING_URL)",
            err=True,
        )
    uvicorn.run(
        "framework.serve.http_app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=int(settings.memory_wait_s) + 5,
    )
