"""The LLM layer: one Model protocol, a litellm adapter, and a scripted test double."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.errors import ModelNotConfigured
from framework.llm.base import Model
from framework.llm.litellm_model import HOW_TO_CONFIGURE, LiteLLMModel
from framework.llm.messages import Completion, Message, Structured, ToolCall, Usage
from framework.llm.testing import ScriptedModel

if TYPE_CHECKING:
    from framework.config import Settings


def resolve_model(
    spec: str | Model | None,
    *,
    timeout_s: float = 60.0,
    retries: int = 2,
    max_tokens: int | None = None,
    deadline_s: float = 60.0,
    structured_mode: str | None = None,
) -> Model:
    """Turn a setting into a Model: a Model passes through, `scripted:FILE` loads a script,
    anything else is a litellm model string (each call bounded by `deadline_s` in all, `timeout_s`
    per attempt and `retries` further attempts)."""
    if spec is None or spec == "":
        raise ModelNotConfigured("No model is configured. " + HOW_TO_CONFIGURE)
    if not isinstance(spec, str):
        return spec
    if spec.startswith("scripted:"):
        return ScriptedModel.from_file(spec.removeprefix("scripted:"))
    import os

    return LiteLLMModel(
        spec,
        api_base=os.environ.get("FRAMEWORK_API_BASE"),
        timeout_s=timeout_s,
        retries=retries,
        max_tokens=max_tokens,
        deadline_s=deadline_s,
        structured_mode=structured_mode,
    )


def configured_model(spec: str | Model | None, settings: Settings) -> Model:
    """`resolve_model` bounded as the settings say (timeouts, retries, max tokens, structured mode)."""
    return resolve_model(
        spec,
        timeout_s=settings.llm_timeout_s,
        deadline_s=settings.llm_deadline_s,
        retries=settings.llm_retries,
        max_tokens=settings.llm_max_tokens,
        structured_mode=settings.structured_mode,
    )


__all__ = [
    "Completion",
    "LiteLLMModel",
    "Message",
    "Model",
    "ScriptedModel",
    "Structured",
    "ToolCall",
    "Usage",
    "resolve_model",
]
