"""framework: an agent runtime that owns a governed memory.

Public names are imported on first use, so that `framework --help` and other light entry
points do not pay for the database and LLM libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Agent": "framework.agent",
    "ApprovalRequest": "framework.steps.act",
    "FrameworkError": "framework.errors",
    "LiteLLMModel": "framework.llm.litellm_model",
    "ScriptedModel": "framework.llm.testing",
    "Session": "framework.session",
    "Settings": "framework.config",
    "ToolFailure": "framework.steps.act",
    "Turn": "framework.turn",
    "load_settings": "framework.config",
    "tool": "framework.tools",
}
__all__ = [
    "Agent",
    "ApprovalRequest",
    "FrameworkError",
    "LiteLLMModel",
    "ScriptedModel",
    "Session",
    "Settings",
    "ToolFailure",
    "Turn",
    "load_settings",
    "tool",
]

if TYPE_CHECKING:
    from framework.agent import Agent
    from framework.config import Settings, load_settings
    from framework.errors import FrameworkError
    from framework.llm.litellm_model import LiteLLMModel
    from framework.llm.testing import ScriptedModel
    from framework.session import Session
    from framework.steps.act import ApprovalRequest, ToolFailure
    from framework.tools import tool
    from framework.turn import Turn


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")
