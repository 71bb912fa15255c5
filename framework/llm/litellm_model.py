"""LiteLLMModel: any provider litellm supports; instructor for structured outputs.

Every call runs under a RetryPolicy (faults.py): transient provider faults are retried with
backoff inside one total deadline, each attempt's timeout shrunk to what is left of it, and a
failure comes out as ModelNotConfigured (the user must fix the key or the model; the message
says how) or ModelError (one line: the fault, the attempts, the time), never as litellm's own
exceptions or an IndexError. litellm's and the OpenAI SDK's own retries are turned off: one
policy, one count.

litellm is imported on first use (it costs seconds), with its price map read locally so the
import does not wait on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from framework.errors import ModelError, ModelNotConfigured
from framework.llm.faults import CONFIG, CallBudget, EmptyReply, RetryPolicy, check_reply
from framework.llm.messages import Completion, Message, Structured, ToolCall, Usage

M = TypeVar("M", bound=BaseModel)
# instructor logs every failed attempt at ERROR: with no handler configured, Python would print
# them on stderr, in the middle of a chat. Our own retry log is framework.llm's.
logging.getLogger("instructor").addHandler(logging.NullHandler())

HOW_TO_CONFIGURE = (
    "Configure a model with --model or FRAMEWORK_MODEL: any litellm model string, e.g. "
    "`--model openai/gpt-4o-mini` with OPENAI_API_KEY set, `--model anthropic/claude-3-5-haiku-latest` "
    "with ANTHROPIC_API_KEY, or a local one such as `--model ollama/llama3` "
    "(FRAMEWORK_API_BASE for any OpenAI-compatible server)."
)
# Where litellm reads a provider's key, when it is not <PROVIDER>_API_KEY.
_KEY_VARIABLES = {
    "together_ai": "TOGETHERAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "vertex_ai": "GOOGLE_APPLICATION_CREDENTIALS",
    "bedrock": "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    "huggingface": "HF_TOKEN",
}


def import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel:
    """A Model backed by litellm. Every call is bounded: `retries` further attempts at most, all
    within `deadline_s` seconds, none longer than `timeout_s`."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        temperature: float | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens: int | None = None,
        deadline_s: float = 60.0,
        backoff_s: float = 0.5,
        structured_mode: str | None = None,
    ) -> None:
        self.name = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s  # per attempt
        self.retries = retries  # further attempts after the first, transient faults only
        self.deadline_s = deadline_s  # per call: every attempt and every wait
        self.temperature = temperature
        self.tool_choice = tool_choice  # None: the provider's default ("auto")
        self.max_tokens = max_tokens  # a cap per reply: a runaway generation cannot hold the model
        self.backoff_s = backoff_s  # the first retry's wait at most; it doubles per retry (jittered)
        # how structured outputs are asked for: tools, json_schema or md_json; None/"auto": by model
        if structured_mode not in STRUCTURED_MODES:
            raise ValueError(
                f"structured_mode {structured_mode!r}: one of {', '.join(map(str, STRUCTURED_MODES))}"
            )
        self.structured_mode = None if structured_mode == "auto" else structured_mode

    @property
    def policy(self) -> RetryPolicy:
        """The bounds every call runs under, read from the settings above."""
        return RetryPolicy(max(0, self.retries), self.deadline_s, self.timeout_s, self.backoff_s)

    @property
    def context_window(self) -> int | None:
        """The model's input size as litellm knows it (None for a model it does not know)."""
        try:
            info = import_litellm().get_model_info(self.name)
        except Exception:  # unknown to litellm's map: the configured budget applies
            return None
        value = info.get("max_input_tokens") or info.get("max_tokens")
        return int(value) if value else None

    def _kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": self.name}
        if self.api_base is not None:
            kw["api_base"] = self.api_base
        if self.api_key is not None:
            kw["api_key"] = self.api_key
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        if self.max_tokens is not None:
            kw["max_tokens"] = self.max_tokens
        return kw

    def _sender(self, litellm: Any, budget: CallBudget, received: list[Usage]) -> Any:
        """One attempt: a single request (no retries below us), timed by what is left of the
        deadline; the usage of every reply that arrives is kept, the reply checked for content."""

        def send(**kwargs: Any) -> Any:
            kwargs.update(timeout=budget.attempt_timeout(), num_retries=0)
            response = litellm.completion(**kwargs)
            received.append(_usage(litellm, response))
            check_reply(response)
            return response

        return send

    def _completion_kwargs(self, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
        kwargs = self._kwargs()
        if tools:
            kwargs["tools"] = tools
            if self.tool_choice is not None:
                kwargs["tool_choice"] = self.tool_choice
        return kwargs

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion:
        litellm = import_litellm()
        kwargs = self._completion_kwargs(tools)
        budget = self.policy.start(self.name)
        received: list[Usage] = []
        send = self._sender(litellm, budget, received)
        try:
            response = budget.retrying()(send, messages=[m.to_openai() for m in messages], **kwargs)
        except Exception as exc:
            raise self._failure(exc, budget) from exc
        return _completion(response, _total(received))

    def stream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> Iterator[str | Completion]:
        """The completion streamed: text deltas as they arrive, then the whole Completion. Faults
        before the first delta are retried under the same policy as `complete`; once text has been
        shown, a fault ends the call (the words cannot be taken back)."""
        litellm = import_litellm()
        sent = [m.to_openai() for m in messages]
        budget = self.policy.start(self.name)
        while True:
            assembly = _Assembly(litellm, sent)
            try:
                response = litellm.completion(messages=sent, **self._streaming(tools, budget))
                try:
                    for chunk in response:
                        text = assembly.add(chunk)
                        if text:
                            yield text
                finally:
                    _close(response)
                yield assembly.completion()
                return
            except Exception as exc:
                delay = None if assembly.shown else budget.after_failure(exc)
                if delay is None:
                    raise self._failure(exc, budget) from exc
                time.sleep(delay)

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[str | Completion]:
        """`stream` with litellm's async API, awaited in the caller's event loop."""
        litellm = import_litellm()
        sent = [m.to_openai() for m in messages]
        budget = self.policy.start(self.name)
        while True:
            assembly = _Assembly(litellm, sent)
            try:
                response = await litellm.acompletion(messages=sent, **self._streaming(tools, budget))
                async for chunk in response:
                    text = assembly.add(chunk)
                    if text:
                        yield text
                yield assembly.completion()
                return
            except Exception as exc:
                delay = None if assembly.shown else budget.after_failure(exc)
                if delay is None:
                    raise self._failure(exc, budget) from exc
                await asyncio.sleep(delay)

    def _streaming(self, tools: list[dict[str, Any]] | None, budget: CallBudget) -> dict[str, Any]:
        kwargs = self._completion_kwargs(tools)
        kwargs.update(
            stream=True,
            stream_options={"include_usage": True},
            timeout=budget.attempt_timeout(),
            num_retries=0,
        )
        return kwargs

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        litellm = import_litellm()
        import instructor

        budget = self.policy.start(self.name)
        received: list[Usage] = []
        mode = instructor.Mode[(self.structured_mode or structured_mode_for(litellm, self.name)).upper()]
        client = instructor.from_litellm(self._sender(litellm, budget, received), mode=mode)
        try:
            # instructor re-asks with the validation error; its retries are this budget's
            value = client.chat.completions.create(
                messages=[m.to_openai() for m in messages],  # type: ignore[misc]
                response_model=response_model,
                max_retries=budget.retrying(),
                **self._kwargs(),
            )
        except Exception as exc:
            raise self._failure(exc, budget) from exc
        # instructor returns a subclass carrying the raw response: hand back the plain model
        return Structured(response_model.model_validate(value.model_dump()), _total(received))

    def _failure(self, exc: Exception, budget: CallBudget) -> Exception:
        """The error a caller sees once the budget has stopped."""
        if type(exc).__name__ == "InstructorRetryException" and isinstance(exc.__cause__, Exception):
            exc = exc.__cause__  # instructor wraps the last attempt's error
        if exc is not budget.last_error:
            budget.record(exc)  # raised outside the retry loop: classify it all the same
        fault = budget.faults[-1] if budget.faults else None
        if fault is not None and fault.severity == CONFIG:
            return ModelNotConfigured(self._advice(fault.kind, fault.describe()))
        reason = f"model {self.name!r} failed: {budget.failure()}"
        if fault is not None and fault.kind.startswith(("connection", "truncated")) and self.api_base:
            reason += f" (is the server at {self.api_base} up? it comes from FRAMEWORK_API_BASE)"
        return ModelError(reason)

    def _advice(self, kind: str, what: str) -> str:
        """ModelNotConfigured's message: what is wrong and the one thing to change."""
        provider, variable = key_variable(self.name)
        if provider is None:
            return f"model {self.name!r} names no provider litellm knows: write it provider/model. " + (
                HOW_TO_CONFIGURE
            )
        key = f"the api_key given to LiteLLMModel (or {variable})" if self.api_key else variable
        local = " (any value will do for a local server)" if self.api_base and provider == "openai" else ""
        if kind == "missing API key":
            fix = f"set {variable}{local}"
        elif kind == "authentication failed":
            fix = f"{provider} refused the key: check {key}"
        else:  # unknown model
            where = f"the server at {self.api_base} (FRAMEWORK_API_BASE)" if self.api_base else provider
            fix = f"{where} does not serve it: choose another with --model or FRAMEWORK_MODEL"
        return f"model {self.name!r} is not usable: {what}. To fix: {fix}."


STRUCTURED_MODES = (None, "auto", "tools", "json_schema", "md_json")


def structured_mode_for(litellm: Any, model: str) -> str:
    """How to ask this model for a structured output (instructor's mode): tool calling where the
    model has it, else a JSON schema response format where it has that, else JSON in a markdown
    block read from the text. A model litellm does not know is taken to speak OpenAI's tools (what
    OpenAI-compatible servers do); `structured_mode` overrides the choice."""
    try:
        info = litellm.get_model_info(model)
    except Exception:
        return "tools"
    if info.get("supports_function_calling"):
        return "tools"
    return "json_schema" if info.get("supports_response_schema") else "md_json"


def key_variable(model: str) -> tuple[str | None, str]:
    """The model's provider as litellm resolves it, and the environment variable holding its key."""
    litellm = import_litellm()
    try:
        provider = str(litellm.get_llm_provider(model)[1])
    except Exception:  # litellm cannot tell the provider from the name
        return None, ""
    try:
        missing = list(litellm.validate_environment(model).get("missing_keys") or [])
    except Exception:
        missing = []
    return provider, " or ".join(missing) or _KEY_VARIABLES.get(provider, f"{provider.upper()}_API_KEY")


class _Assembly:
    """A streamed reply put back together: the chunks kept, the text shown so far."""

    def __init__(self, litellm: Any, messages: list[dict[str, Any]]) -> None:
        self.litellm, self.messages = litellm, messages
        self.chunks: list[Any] = []
        self.shown = False

    def add(self, chunk: Any) -> str:
        self.chunks.append(chunk)
        choices = getattr(chunk, "choices", None) or []
        delta = getattr(choices[0], "delta", None) if choices else None
        text = getattr(delta, "content", None) or ""
        self.shown = self.shown or bool(text)
        return text

    def completion(self) -> Completion:
        if not self.chunks:
            raise EmptyReply("a stream without chunks")
        response = self.litellm.stream_chunk_builder(self.chunks, messages=self.messages)
        check_reply(response)
        return _completion(response, _usage(self.litellm, response))


def _close(response: Any) -> None:
    close = getattr(getattr(response, "completion_stream", None), "close", None)
    if callable(close):
        with contextlib.suppress(Exception):  # a finished or broken stream: nothing left to release
            close()


def _completion(response: Any, usage: Usage) -> Completion:
    message = response.choices[0].message
    calls = [_parse_tool_call(c) for c in (message.tool_calls or [])]
    reason = getattr(response.choices[0], "finish_reason", None)
    return Completion(message.content, calls, usage, str(reason) if reason else None)


def _parse_tool_call(call: Any) -> ToolCall:
    raw = call.function.arguments or "{}"
    try:
        args = json.loads(raw)
    except json.JSONDecodeError:
        return ToolCall(call.id, call.function.name, {}, malformed=raw)
    if not isinstance(args, dict):
        return ToolCall(call.id, call.function.name, {}, malformed=raw)
    return ToolCall(call.id, call.function.name, args)


def _usage(litellm: Any, response: Any) -> Usage:
    """One reply's usage, read as it arrives (instructor later rewrites `usage` to running totals)."""
    usage = getattr(response, "usage", None)
    try:
        cost = float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown price for this model: cost is not known, not an error
        cost = 0.0
    return Usage(
        calls=1,
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        cost_usd=cost,
    )


def _total(received: list[Usage]) -> Usage:
    total = Usage()
    for usage in received:
        total.add(usage)
    return total
