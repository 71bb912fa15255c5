"""Input at the edges, refused or made safe before anything reads or stores it.

- ids (`user_id`, `session_id`) are text of 1 to `MAX_ID_CHARS` characters with no control, line
  separator or lone surrogate characters (an id is a key: it is refused, never altered, since two
  altered ids could become one user);
- a message longer than the `max_message_chars` setting, or holding a NUL, is refused (a NUL
  cannot be stored in PostgreSQL's text); lone surrogates (which no UTF-8 encoder accepts) are
  replaced by U+FFFD, and a surrogate pair written as two code points is joined;
- text a model returns (`safe_text`) gets the same repair, so its output cannot crash a write.
Every refusal is an InvalidInput (a ValueError) that names the argument or the setting.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from framework.errors import InvalidInput

MAX_ID_CHARS = 256  # ids are keys in the store and in working memory, not text to read
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_IN_ID = {  # Unicode category -> what it is, for the error
    "Cc": "a control character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def safe_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD and NULs removed: storable anywhere."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", "")


def checked_id(name: str, value: object) -> str:
    """`value` if it is a usable id, else a ValueError naming `name` and what is wrong."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{name} is empty or only whitespace: give a real id (or None)")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInput(f"{name} is {len(value):,} characters long, over the limit of {MAX_ID_CHARS}")
    for position, char in enumerate(value):
        what = _BAD_IN_ID.get(unicodedata.category(char))
        if what is not None:
            raise InvalidInput(
                f"{name} {value!r} contains {what} (U+{ord(char):04X}) at position {position}: "
                "ids are printable text"
            )
    return value


def checked_message(text: object, limit: int) -> str:
    """The message as it will be stored: refused when too long, empty or holding a NUL; lone
    surrogates replaced by U+FFFD (a pair written as two code points becomes its character)."""
    if not isinstance(text, str):
        raise InvalidInput(f"send(text): text must be a non-empty string, got {type(text).__name__}")
    if len(text) > limit:
        raise InvalidInput(
            f"send(text): the message is {len(text):,} characters, over the max_message_chars setting "
            f"({limit:,}; env FRAMEWORK_MAX_MESSAGE_CHARS): shorten it, or raise the setting"
        )
    nul = text.find("\x00")
    if nul >= 0:
        raise InvalidInput(
            f"send(text): the message contains a NUL character (\\x00) at position {nul}: remove it"
        )
    text = safe_text(text)
    if not text.strip():
        raise InvalidInput("send(text): text must be a non-empty string")
    return text


def checked_time(value: object, name: str = "said_at") -> datetime | None:
    """When the user said it, as an aware UTC datetime (a naive one is taken as UTC); None is now.
    A time in the future is refused: memories are written from what was said."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"send(..., {name}=): expected a datetime (e.g. datetime(2023, 5, 8, tzinfo=UTC)), "
            f"got {type(value).__name__}"
        )
    when = value if value.tzinfo else value.replace(tzinfo=UTC)
    if when > datetime.now(UTC) + timedelta(minutes=5):
        raise InvalidInput(f"send(..., {name}=): {when.isoformat()} is in the future; give when it was said")
    return when.astimezone(UTC)
