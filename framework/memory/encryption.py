"""Memory at rest, encrypted: one secret (the `encryption_key` setting) opens the SQLite store
through SQLCipher and working memory's values through AES-GCM.

Keys. The secret is stretched once per process with scrypt (a guessed passphrase costs ~50 ms a
guess, not a hash), then HKDF-SHA256 derives one key per use, each with its own `info` string:
the store's SQLCipher key (given to SQLCipher raw, `x'…'`, so that opening a connection costs no
second key derivation) and working memory's AES-256-GCM key. Neither key is the secret itself.

Mistakes are refused before anything is written: a store (or a working-memory folder) is
recognised as plaintext or encrypted, and a key that does not open it is a ConfigurationError
naming the setting, never a corrupt store or a silently new one.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from framework.config import Secret
from framework.errors import ConfigurationError, StoreError

SETTING = "encryption_key (FRAMEWORK_ENCRYPTION_KEY) or encryption_key_file (FRAMEWORK_ENCRYPTION_KEY_FILE)"
_SALT = b"framework/at-rest/v1"  # fixed: a random 32-byte key needs no salt; see README "Security"
_STORE_INFO = b"framework/sqlcipher/v1"
_WORKING_INFO = b"framework/working-memory/aes-gcm/v1"
_SQLITE_HEADER = b"SQLite format 3\x00"
SEALED = "fwenc1:"  # a sealed working-memory value: fwenc1:base64(nonce | ciphertext | tag)
_PLAIN_MARK = "plain"


@lru_cache(maxsize=8)
def _stretched(secret: str) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=_SALT, n=2**14, r=8, p=1, dklen=32)


def derive_key(secret: Secret, info: bytes) -> bytes:
    """A 32-byte key for one use (`info`), from the stretched secret."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        _stretched(secret.reveal())
    )


# --- the SQLite store: SQLCipher --------------------------------------------------------------
def sqlcipher_module() -> Any:
    """SQLCipher's DB-API module (sqlcipher3-binary), or a ConfigurationError saying what to install."""
    try:
        import sqlcipher3.dbapi2 as module
    except ImportError as exc:
        raise ConfigurationError(
            f"{SETTING} is set, and an encrypted SQLite store needs SQLCipher: "
            "pip install 'framework[encryption]' (sqlcipher3-binary)"
        ) from exc
    return module


def check_store_file(path: Path, key: Secret | None) -> None:
    """Refuse, before any connection, a store whose encryption is not what the settings say: a
    plaintext file opened with a key, or an encrypted one without. A missing or empty file is a
    new store, made as the settings say."""
    try:
        with path.open("rb") as f:
            header = f.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    if not header:
        return
    if key is not None and header == _SQLITE_HEADER:
        raise ConfigurationError(
            f"{path} is a plaintext store but {SETTING} is set: unset it to use this store, or "
            "start an encrypted store in a new home (moving a store to encryption is not automated)"
        )
    if key is None and header != _SQLITE_HEADER:
        raise ConfigurationError(
            f"{path} is encrypted (or is not an SQLite database): set {SETTING} to the key it was made with"
        )


def unlock(dbapi_conn: Any, key: Secret, path: str) -> None:
    """Give a new SQLCipher connection its key (the first statement it runs), then read the schema:
    a wrong key fails here, before anything is written."""
    raw = derive_key(key, _STORE_INFO).hex()
    dbapi_conn.execute(f"PRAGMA key = \"x'{raw}'\"")
    dbapi_conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error, not stderr noise
    try:
        dbapi_conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except Exception as exc:  # the driver's DatabaseError: "file is not a database"
        raise ConfigurationError(
            f"the memory store {path} does not open with the configured key: set {SETTING} to the "
            "key it was made with (the store was left as it was)"
        ) from exc


# --- working memory: AES-GCM per value ----------------------------------------------------------
class PlainValues:
    """Working memory's values as they are (no encryption configured)."""

    marker = _PLAIN_MARK

    def seal(self, name: str, text: str) -> str:
        return text

    def open(self, name: str, stored: str | bytes) -> str:
        text = stored.decode() if isinstance(stored, bytes) else stored
        if text.startswith(SEALED):
            raise ConfigurationError(f"working memory value {name!r} is encrypted: set {SETTING}")
        return text

    def accepts_marker(self, found: str, where: str) -> None:
        if found != _PLAIN_MARK:
            raise ConfigurationError(f"working memory in {where} is encrypted: set {SETTING}")


class ValueCipher:
    """AES-256-GCM for working memory's values: a random 96-bit nonce per value, and the value's key
    name as associated data (a value moved to another session's key does not open)."""

    def __init__(self, secret: Secret) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(derive_key(secret, _WORKING_INFO))
        self.marker = self.seal("~encryption", "framework working memory")

    def seal(self, name: str, text: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), name.encode())
        return SEALED + base64.b64encode(sealed).decode("ascii")

    def open(self, name: str, stored: str | bytes) -> str:
        from cryptography.exceptions import InvalidTag

        text = stored.decode() if isinstance(stored, bytes) else stored
        if not text.startswith(SEALED):
            raise StoreError(f"working memory value {name!r} is not encrypted, in an encrypted store")
        try:
            blob = base64.b64decode(text[len(SEALED) :])
            return self._aead.decrypt(blob[:12], blob[12:], name.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise StoreError(f"working memory value {name!r} failed its integrity check") from exc

    def accepts_marker(self, found: str, where: str) -> None:
        if found == _PLAIN_MARK:
            raise ConfigurationError(
                f"working memory in {where} is not encrypted but {SETTING} is set: unset it, or "
                "delete the working-memory data (it only holds sessions' current state)"
            )
        try:
            self.open("~encryption", found)
        except StoreError:
            raise ConfigurationError(
                f"working memory in {where} does not open with the configured key: set {SETTING} "
                "to the key it was made with"
            ) from None


Values = PlainValues | ValueCipher


def working_values(secret: Secret | None) -> Values:
    return PlainValues() if secret is None else ValueCipher(secret)


def check_working_store(
    values: Values,
    where: str,
    read_marker: Callable[[], str | None],
    add_marker: Callable[[str], None],
    sample: Callable[[], tuple[str, str] | None],
) -> None:
    """Refuse a working-memory store whose encryption is not what the settings say. Its marker
    (written by the first process that opened it) records how its values are stored; a store
    without one (made before markers, or whose marker was evicted) is judged by one stored value."""
    found = read_marker()
    if found is None:
        one = sample()
        if one is not None:
            name, stored = one
            text = stored.decode() if isinstance(stored, bytes) else stored
            if text.startswith(SEALED) and isinstance(values, PlainValues):
                raise ConfigurationError(f"working memory in {where} is encrypted: set {SETTING}")
            if not text.startswith(SEALED) and isinstance(values, ValueCipher):
                values.accepts_marker(_PLAIN_MARK, where)  # raises: plaintext store, key set
            if isinstance(values, ValueCipher):
                try:
                    values.open(name, text)
                except StoreError:
                    raise ConfigurationError(
                        f"working memory in {where} does not open with the configured key: set "
                        f"{SETTING} to the key it was made with"
                    ) from None
        add_marker(values.marker)  # only if still absent: another process may have won
        found = read_marker() or values.marker
    values.accepts_marker(found, where)
