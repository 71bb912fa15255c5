"""Where the shipped folders (prompts/, agents/, skills/, policies/) live.

In a source checkout they sit beside the package; in an installed wheel they are copied into
framework/_data/. One function finds them so nothing else hard-codes either layout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """Return the folder `name` (e.g. "prompts") from the checkout or the installed wheel."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped folder {name!r} not found beside {_PACKAGE}")
