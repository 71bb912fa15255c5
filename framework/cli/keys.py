"""`framework keys create|list|revoke`: API keys for the HTTP service and the MCP server over HTTP,
one user each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from framework.cli.options import common

if TYPE_CHECKING:
    from framework.serve.keys import KeyStore


def _store(home: str | None, embedder: str | None) -> KeyStore:
    from framework.config import load_settings
    from framework.errors import FrameworkError
    from framework.serve.keys import open_keys

    try:
        return open_keys(load_settings(home, embedder=embedder))
    except FrameworkError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def keys() -> None:
    """API keys for `framework serve` and `framework mcp serve --transport http`: each key reaches
    one user's memory."""


@keys.command()
@click.option("--user", required=True, help="the user whose memory the key reaches")
@click.option("--label", default="", help="what the key is for (shown by `keys list`)")
@common
def create(user: str, label: str, home: str | None, embedder: str | None) -> None:
    """Create a key and print it once (only a salted digest of it is stored)."""
    issued = _store(home, embedder).create(user, label)
    click.echo(issued.token)
    click.echo(
        f"key {issued.key_id} for user {user!r}; it is shown only now. Send it as "
        "'Authorization: Bearer <key>'.",
        err=True,
    )


@keys.command("list")
@click.option("--user", default=None, help="only this user's keys")
@common
def list_(user: str | None, home: str | None, embedder: str | None) -> None:
    """Every key: its id, user, label, creation and revocation (never the key itself)."""
    rows = _store(home, embedder).list(user)
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        label = f" {row.label!r}" if row.label else ""
        click.echo(
            f"{row.key_id} user={row.user_id!r}{label} created {row.created_at:%Y-%m-%d %H:%M} {state}"
        )
    if not rows:
        click.echo("no keys" + (f" for user {user!r}" if user else ""))


@keys.command()
@click.argument("key_id")
@common
def revoke(key_id: str, home: str | None, embedder: str | None) -> None:
    """Refuse a key from now on (KEY_ID as `keys list` shows it, or the whole key)."""
    if not _store(home, embedder).revoke(key_id):
        raise click.ClickException(f"no active key {key_id!r} (see `framework keys list`)")
    click.echo(f"revoked {key_id.removeprefix('fwk_').split('_')[0]}")
