"""Choosing the working-memory store from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from framework.config import shown_url
from framework.errors import ConfigurationError
from framework.memory.encryption import working_values
from framework.memory.working.diskcache_store import DiskcacheWorkingStore
from framework.memory.working.store import WorkingStore

if TYPE_CHECKING:
    from framework.config import Settings

REDIS_SCHEMES = ("redis", "rediss", "unix")


def open_working_store(settings: Settings) -> WorkingStore:
    """The backend `settings.working_url` names: unset means diskcache in $FRAMEWORK_HOME/working,
    redis://host:port/db (or rediss://, unix://) means that Redis server. With an encryption key
    (settings.encryption_key) either one seals its values with AES-GCM."""
    url = settings.working_url
    values = working_values(settings.encryption_key)
    if url is None:
        return DiskcacheWorkingStore(settings.home / "working", settings.working_ttl_s, values)
    if urlsplit(url).scheme in REDIS_SCHEMES:
        from framework.memory.working.redis_store import RedisWorkingStore

        return RedisWorkingStore(url, settings.working_ttl_s, values=values)
    source = settings.sources.get("working_url", "?")
    raise ConfigurationError(
        f"setting 'working_url' from {source} is {shown_url(url)!r}: use redis://HOST:PORT/DB for Redis, "
        f"or leave it unset for diskcache in {settings.home / 'working'}"
    )
