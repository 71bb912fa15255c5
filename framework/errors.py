"""Every error the framework raises on purpose.

FrameworkError
 ├── ConfigurationError      a setting is missing or unusable (names the setting and the fix)
 │    └── ModelNotConfigured  no LLM is configured, or the one configured cannot be reached
 ├── InvalidInput            an id or a message that cannot be used (also a ValueError; names it)
 ├── DefinitionError         a YAML skill/policy or an Agent subclass is malformed (names file/field)
 │    └── HistoryUnavailable  no git history for a skill or policy file (git missing, no repository)
 ├── ModelError              the LLM failed after bounded retries, or returned unusable output
 ├── ScriptError             a ScriptedModel got a call it did not expect, or was not consumed
 ├── StepLimitExceeded       the reason/act loop ran past the agent's step limit
 ├── StoreError              the memory store refused an operation (e.g. embedder mismatch)
 │    └── StoreBusy           other writers held the store past the deadline (says what to do)
 ├── PolicyDenied            a tool called from code (a hook, another tool) was denied by the gate
 └── ToolFailure             raised by a tool to report that it ran and failed (the outcome counts it)
"""

from __future__ import annotations


class FrameworkError(Exception):
    """Base class: catch this to catch everything the framework raises on purpose."""


class ConfigurationError(FrameworkError):
    pass


class ModelNotConfigured(ConfigurationError):
    pass


class InvalidInput(FrameworkError, ValueError):
    pass


class DefinitionError(FrameworkError):
    pass


class HistoryUnavailable(DefinitionError):
    """No git history for a file: git is missing, or the folder is not in a repository."""


class ModelError(FrameworkError):
    pass


class ScriptError(FrameworkError, AssertionError):
    """Also an AssertionError, so pytest reports it as a failed expectation."""


class StepLimitExceeded(FrameworkError):
    pass


class StoreError(FrameworkError):
    pass


class StoreBusy(StoreError):
    pass


class PolicyDenied(FrameworkError):
    pass


class ToolFailure(FrameworkError):
    """Raise from a tool to report that it ran and failed (the outcome counts it as a failure)."""
