"""Every prompt the runtime sends comes from prompts/ through this one jinja2 environment.
StrictUndefined: a template that names a missing variable fails instead of sending a hole."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from framework.resources import shipped_folder


def quote(text: str) -> str:
    """Text from memory or a tool as quoted data: one JSON string, so it cannot open a new line
    or a heading of the prompt and pass for an instruction."""
    return json.dumps(text, ensure_ascii=False)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(shipped_folder("prompts"))),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # prompts are plain text, not HTML
    )
    env.filters["quote"] = quote
    return env


def render(name: str, **variables: Any) -> str:
    return environment().get_template(f"{name}.j2").render(**variables).strip()
