"""framework: an agent runtime that owns a governed memory."""

from framework.agent import Agent
from framework.config import Settings, load_settings
from framework.errors import FrameworkError
from framework.llm import LiteLLMModel, ScriptedModel
from framework.session import Session
from framework.steps.act import ApprovalRequest, ToolFailure
from framework.tools import tool
from framework.turn import Turn

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
