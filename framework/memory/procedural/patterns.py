"""Argument patterns in policies, matched in linear time.

A policy's `arguments` patterns see text from the model and from users, so they are compiled with
RE2 (google-re2): no backtracking, so no pattern can take seconds on a long argument. RE2 has no
lookaround or backreferences; a pattern that uses them is refused when the policy loads, with the
reason. Matching is case-insensitive and searches anywhere in the argument's text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason is raised to the policy's author instead
    options.case_sensitive = False
    options.max_mem = 64 << 20
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; ValueError (with RE2's reason) if RE2 cannot compile it."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"bad pattern {pattern!r}: {reason} (patterns run on RE2: no lookaround or backreferences)"
        ) from None


def arguments_match(patterns: dict[str, str], arguments: dict[str, Any]) -> bool:
    """Every named argument is present and its text matches its pattern."""
    return all(
        name in arguments and compile_pattern(pattern).search(str(arguments[name])) is not None
        for name, pattern in patterns.items()
    )
