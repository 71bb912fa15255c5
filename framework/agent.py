"""`Agent`: what an application subclasses. Declarative settings, `@tool` methods, no-op hooks.

    class Assistant(Agent):
        name = "assistant"
        instructions = "You help one person and remember what matters to them."
        policies = "../policies"          # folders are relative to the file defining the class

        @tool
        def add_reminder(self, text: str, when: str) -> str:
            \"\"\"Add a reminder.\"\"\"

    agent = Assistant(model="openai/gpt-4o-mini")
    turn = agent.session(user_id="ada").send("I prefer Python over JavaScript")

The runtime owns the loop; an agent never overrides it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from framework.config import Settings, load_settings
from framework.embeddings import Embedder
from framework.errors import DefinitionError
from framework.gate import Approver, PolicyGate
from framework.llm import configured_model
from framework.llm.base import Model
from framework.log import log_to
from framework.loop import Runtime
from framework.mcp import MCPServer, MCPTools, with_mcp_tools
from framework.memory.governance import WritePolicy
from framework.memory.longterm.lifecycle import ForgettingPolicy
from framework.memory.manager import MemoryManager
from framework.memory.recall import RECALL_MIN_CONFIDENCE
from framework.memory.rewrite import QueryRewriter, checked_query_rewrite, rewriting_model
from framework.outcome import ToolCallRecord
from framework.session import Session
from framework.steps.act import GatedTool, Toolbox
from framework.steps.memorize import apply_job
from framework.tools import ToolSpec, build_spec
from framework.turn import Turn


class Agent:
    name: ClassVar[str] = "agent"
    instructions: ClassVar[str] = "You are a helpful assistant with a long-term memory."
    model: ClassVar[str | None] = None  # a litellm model string; settings/flags override it
    skills: ClassVar[str | None] = None  # folder of skill YAML files
    policies: ClassVar[str | None] = None  # folder of policy YAML files
    max_steps: ClassVar[int | None] = None  # reason/act steps per turn (settings default: 8)
    judge_outcomes: ClassVar[bool] = False  # ask the model to judge each turn's outcome
    write_policy: ClassVar[WritePolicy] = WritePolicy()
    recall_limit: ClassVar[int] = 8
    # Recall leaves out facts, outcomes and preferences less sure than this (reported as dropped
    # in the recall's explanation); constraints are always included. The seed's 0.7.
    recall_min_confidence: ClassVar[float] = RECALL_MIN_CONFIDENCE
    # How memories fade and when they are forgotten (floor: the seed's 0.3); `framework memory
    # forget-cycle --agent NAME` and MemoryManager.forget_cycle apply it.
    forgetting: ClassVar[ForgettingPolicy] = ForgettingPolicy()
    # Ask an LLM before each recall what the memories answering the message would contain, and
    # search with that too (framework.memory.rewrite): False (off: no call before the answer),
    # True (the agent's model) or a litellm model string (a smaller, faster one).
    query_rewrite: ClassVar[bool | str] = False
    # MCP servers whose tools this agent gets (framework.mcp): MCPServer entries, or a YAML file
    mcp_servers: ClassVar[Sequence[MCPServer] | str | None] = None

    def __init__(
        self,
        *,
        model: str | Model | None = None,
        home: str | Path | None = None,
        embedder: str | Embedder | None = None,
        database_url: str | None = None,
        approve: Approver | None = None,
        settings: Settings | None = None,
        mcp_servers: Sequence[MCPServer] | str | None = None,
    ) -> None:
        self.settings = settings or load_settings(
            home,
            model=model if isinstance(model, str) else None,
            embedder=embedder if isinstance(embedder, str) else None,
            database_url=database_url,
        )
        chosen = (
            model
            if model is not None
            else (
                self.settings.model if self.settings.sources.get("model") != "default" else type(self).model
            )
        )
        self.llm: Model = configured_model(chosen, self.settings)
        rewrite = checked_query_rewrite(self.query_rewrite)
        rewriter = None
        if isinstance(rewrite, str):
            rewriter = QueryRewriter(rewriting_model(rewrite, self.settings))
        elif rewrite:  # the agent's model: bounded apart when it is a litellm model string
            if isinstance(chosen, str) and not chosen.startswith("scripted:"):
                rewriter = QueryRewriter(rewriting_model(chosen, self.settings))
            else:
                rewriter = QueryRewriter(self.llm)
        self.approve = approve
        self.log_file = log_to(self.settings.home)
        self.steps_limit = self.max_steps if self.max_steps is not None else self.settings.max_steps
        self.mcp = MCPTools.connect(type(self), mcp_servers, self.settings.home)  # None: no servers
        self.tool_specs = with_mcp_tools(self._collect_tools(), self.mcp)
        self.memory = MemoryManager(
            self.settings,
            embedder=embedder if embedder is not None and not isinstance(embedder, str) else None,
            skills_dir=self._folder("skills"),
            policies_dir=self._folder("policies"),
            write_policy=self.write_policy,
            recall_limit=self.recall_limit,
            recall_min_confidence=self.recall_min_confidence,
            forgetting=self.forgetting,
            rewriter=rewriter,
        )
        self.runtime = Runtime(
            instructions=self.instructions,
            model=self.llm,
            memory=self.memory,
            # The gate reads the policies in force at each call: an edited file applies at once.
            toolbox=Toolbox(self.tool_specs, PolicyGate(self.memory.procedural), approve),
            window=self.memory.context_window(self.llm),
            max_steps=self.steps_limit,
            judge_outcomes=self.judge_outcomes,
            hooks=self,
            agent=self.name,
        )
        # Step 6 runs after the answers: queued in the store, applied by the memory worker.
        self.memory.start_work(
            partial(apply_job, self.memory, self.llm), background=self.settings.memory_work == "background"
        )

    def session(self, user_id: str | None, session_id: str | None = None) -> Session:
        """A conversation with one user (None: anonymous, nothing written long-term)."""
        return Session(self.runtime, user_id, session_id)

    def close(self) -> None:
        """Apply queued memory work (bounded by memory_wait_s; what is left stays queued in the
        store for the next start), then close the stores and MCP servers."""
        if self.mcp is not None:
            self.mcp.close()
        self.memory.close()

    # --- hooks: override any of these; they do nothing by default ----------------------------
    def on_turn_start(self, turn: Turn) -> None:
        """Called before step 1."""

    def on_tool_call(self, record: ToolCallRecord) -> None:
        """Called after each tool call, allowed or not."""

    def on_turn_end(self, turn: Turn) -> None:
        """Called when the answer is complete, with the Turn (its memory work may still be
        running: `turn.memory_ops` waits for it)."""

    # --- internals -------------------------------------------------------------------------------
    def _collect_tools(self) -> dict[str, ToolSpec]:
        """The class's @tool methods as specs. On this instance each method is then replaced by a
        GatedTool, so code that calls `self.some_tool(...)` — a hook, another tool — is gated too."""
        specs: dict[str, ToolSpec] = {}
        attrs: dict[str, str] = {}
        for attr in dir(type(self)):
            fn = inspect.getattr_static(type(self), attr, None)
            tool_name = getattr(fn, "__framework_tool__", None)
            if tool_name is None:
                continue
            if tool_name in specs:
                raise DefinitionError(f"{type(self).__name__}: two tools named {tool_name!r}")
            spec = build_spec(fn, tool_name, type(self).__name__)
            specs[tool_name] = replace(spec, function=getattr(self, attr))
            attrs[tool_name] = attr
        for tool_name, attr in attrs.items():
            setattr(
                self, attr, GatedTool(specs[tool_name], lambda: self.runtime.toolbox, type(self).__name__)
            )
        return specs

    def _folder(self, setting: str) -> Path | None:
        """A skills or policies folder, relative to the file of the class that declares it (a
        subclass in another folder inherits the same folder). A declared folder that does not
        exist is an error: an agent must not start without the policies it was given."""
        value = getattr(self, setting)
        if value is None:
            return None
        path = Path(value)
        if not path.is_absolute():
            owner = next(c for c in type(self).__mro__ if setting in vars(c))
            path = Path(inspect.getfile(owner)).resolve().parent / path
        if not path.is_dir():
            raise DefinitionError(
                f"{type(self).__name__}.{setting} = {value!r} resolves to {path}, which is not a folder "
                f"(relative folders are read from the folder of the file that declares them)"
            )
        return path
