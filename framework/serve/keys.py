"""API keys for the MCP server over HTTP: one user per key, only a salted digest stored.

A key reads `fwk_<key id>_<secret>`: the key id (12 hex digits) is public (it names the key in
`framework keys list` and `revoke`, and finds its row); the secret (64 hex digits, 256 random
bits) is shown once, at creation, and kept only as SHA-256(salt + secret) with a random 16-byte
salt per key. A fast hash is enough here: the secret is random, not a password, so there is
nothing to guess from a digest; a slow one would only slow every request. Keys live in the
store's `api_key` table (migration 008), so they go where the memory goes, and erasing a user
(`delete-user`) deletes that user's keys with the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from framework.clock import utcnow
from framework.config import Settings
from framework.memory.longterm.backends import write_session
from framework.memory.longterm.records import ApiKey

PREFIX = "fwk_"
_KEY = re.compile(r"^fwk_([0-9a-f]{12})_([0-9a-f]{64})$")


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `token` is what the client sends, and is never shown again."""

    key_id: str
    user_id: str
    token: str


def digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


class KeyStore:
    """Create, check, list and revoke API keys in a store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, user_id: str, label: str = "") -> IssuedKey:
        if not user_id.strip():
            raise ValueError("an API key needs a user id")
        key_id, secret, salt = secrets.token_hex(6), secrets.token_hex(32), secrets.token_hex(16)
        with write_session(self.engine) as s:
            s.add(ApiKey(key_id=key_id, user_id=user_id, salt=salt, digest=digest(salt, secret), label=label))
            s.commit()
        return IssuedKey(key_id, user_id, f"{PREFIX}{key_id}_{secret}")

    def user_of(self, token: str) -> str | None:
        """The user a key belongs to, or None: malformed, unknown, revoked or wrong secret."""
        match = _KEY.match(token.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        with Session(self.engine) as s:
            row = s.scalars(select(ApiKey).where(col(ApiKey.key_id) == key_id)).first()
        if row is None or row.revoked_at is not None:
            return None
        return row.user_id if hmac.compare_digest(digest(row.salt, secret), row.digest) else None

    def list(self, user_id: str | None = None) -> list[ApiKey]:
        query = select(ApiKey).order_by(col(ApiKey.id))
        if user_id is not None:
            query = query.where(col(ApiKey.user_id) == user_id)
        with Session(self.engine) as s:
            return list(s.scalars(query))

    def revoke(self, key_id: str) -> bool:
        """Refuse a key from now on (its row stays, for the record); False when none is active."""
        key_id = key_id.removeprefix(PREFIX).split("_")[0]
        with write_session(self.engine) as s:
            row = s.scalars(select(ApiKey).where(col(ApiKey.key_id) == key_id)).first()
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            s.add(row)
            s.commit()
        return True


def open_keys(settings: Settings) -> KeyStore:
    """The key store of the configured memory store (migrated, the embedder checked, as the
    memory manager opens it; the local embedder's model is not loaded for this)."""
    from framework.embeddings import resolve_embedder
    from framework.memory.longterm import migrate, open_engine

    embedder = resolve_embedder(settings.embedder)
    engine = open_engine(settings.database_url)
    migrate(engine, embedder.name, embedder.dim)
    return KeyStore(engine)
