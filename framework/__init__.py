"""framework: an agent runtime that owns a governed memory.

Public names are imported on first use, so that `framework --help` and other light entry
points do not pay for the database and LLM libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Agent": "framework.agent",
    "ApprovalRequest": "framework.gate",
    "FrameworkError": "framework.errors",
    "FunctionModel": "framework.llm.testing",
    "HashEmbedder": "framework.embeddings",
    "LiteLLMModel": "framework.llm.litellm_model",
    "MCPServer": "framework.mcp",
    "MemoryManager": "framework.memory.manager",
    "Outcome": "framework.outcome",
    "PolicyGate": "framework.gate",
    "RankWeights": "framework.ranking",
    "ScriptedModel": "framework.llm.testing",
    "Session": "framework.session",
    "Settings": "framework.config",
    "ToolCallRecord": "framework.outcome",
    "ToolFailure": "framework.errors",
    "Turn": "framework.turn",
    "WritePolicy": "framework.memory.governance",
    "load_settings": "framework.config",
    "tool": "framework.tools",
}
__all__ = [
    "Agent",
    "ApprovalRequest",
    "FrameworkError",
    "FunctionModel",
    "HashEmbedder",
    "LiteLLMModel",
    "MCPServer",
    "MemoryManager",
    "Outcome",
    "PolicyGate",
    "RankWeights",
    "ScriptedModel",
    "Session",
    "Settings",
    "ToolCallRecord",
    "ToolFailure",
    "Turn",
    "WritePolicy",
    "load_settings",
    "tool",
]

if TYPE_CHECKING:
    from framework.agent import Agent
    from framework.config import Settings, load_settings
    from framework.embeddings import HashEmbedder
    from framework.errors import FrameworkError, ToolFailure
    from framework.gate import ApprovalRequest, PolicyGate
    from framework.llm.litellm_model import LiteLLMModel
    from framework.llm.testing import FunctionModel, ScriptedModel
    from framework.mcp import MCPServer
    from framework.memory.governance import WritePolicy
    from framework.memory.manager import MemoryManager
    from framework.outcome import Outcome, ToolCallRecord
    from framework.ranking import RankWeights
    from framework.session import Session
    from framework.tools import tool
    from framework.turn import Turn


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")
