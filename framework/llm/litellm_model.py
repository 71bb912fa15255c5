"""LiteLLMModel: any provider litellm supports; instructor for structured outputs.

litellm is imported on first use (it costs seconds), with its price map read locally so the
import does not wait on the network.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

from pydantic import BaseModel

from framework.errors import ModelError, ModelNotConfigured
from framework.llm.messages import Completion, Message, Structured, ToolCall, Usage

M = TypeVar("M", bound=BaseModel)

HOW_TO_CONFIGURE = (
    "Configure a model with --model or FRAMEWORK_MODEL: any litellm model string, e.g. "
    "`--model openai/gpt-4o-mini` with OPENAI_API_KEY set, `--model anthropic/claude-3-5-haiku-latest` "
    "with ANTHROPIC_API_KEY, or a local one such as `--model ollama/llama3` "
    "(OPENAI_API_BASE / --api-base for any OpenAI-compatible server)."
)


def import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel:
    """A Model backed by litellm. Timeouts and bounded retries apply to every call."""

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
    ) -> None:
        self.name = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.temperature = temperature
        self.tool_choice = tool_choice  # None: the provider's default ("auto")
        self.max_tokens = max_tokens  # a cap per reply: a runaway generation cannot hold the model

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
        kw: dict[str, Any] = {"model": self.name, "timeout": self.timeout_s}
        if self.api_base is not None:
            kw["api_base"] = self.api_base
        if self.api_key is not None:
            kw["api_key"] = self.api_key
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        if self.max_tokens is not None:
            kw["max_tokens"] = self.max_tokens
        return kw

    def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> Completion:
        litellm = import_litellm()
        kwargs = self._kwargs()
        if tools:
            kwargs["tools"] = tools
            if self.tool_choice is not None:
                kwargs["tool_choice"] = self.tool_choice
        try:
            response = litellm.completion(
                messages=[m.to_openai() for m in messages], num_retries=self.retries, **kwargs
            )
        except Exception as exc:  # litellm maps every provider error to its own classes
            raise _translate(exc, self.name) from exc
        message = response.choices[0].message
        calls = [_parse_tool_call(c) for c in (message.tool_calls or [])]
        return Completion(message.content, calls, _usage(litellm, response))

    def structured(self, messages: list[Message], response_model: type[M]) -> Structured[M]:
        litellm = import_litellm()
        import instructor

        client = instructor.from_litellm(litellm.completion, mode=instructor.Mode.TOOLS)
        attempts: list[Any] = []  # instructor retries with the validation error: count each request
        client.on("completion:response", attempts.append)
        try:
            value, raw = client.chat.completions.create_with_completion(
                messages=[m.to_openai() for m in messages],  # type: ignore[misc]
                response_model=response_model,
                max_retries=self.retries,
                **self._kwargs(),
            )
        except Exception as exc:
            # instructor wraps the provider's error: judge the cause (auth, unknown model, ...)
            cause = exc.__cause__ if type(exc).__name__ == "InstructorRetryException" else None
            raise _translate(cause if isinstance(cause, Exception) else exc, self.name) from exc
        usage = _usage(litellm, raw)
        usage.calls = max(1, len(attempts))
        # instructor returns a subclass carrying the raw response: hand back the plain model
        return Structured(response_model.model_validate(value.model_dump()), usage)


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


def _translate(exc: Exception, model: str) -> Exception:
    kind = type(exc).__name__
    text = str(exc)
    unusable = (
        kind in {"AuthenticationError", "NotFoundError", "APIConnectionError", "PermissionDeniedError"}
        or (kind == "BadRequestError" and "LLM Provider NOT provided" in text)
        # litellm 1.106 reports a refused connection (server down) as an InternalServerError
        or (kind == "InternalServerError" and "Connection" in text)
    )
    if unusable:
        return ModelNotConfigured(
            f"model {model!r} is not usable ({kind}: {str(exc)[:300]}). " + HOW_TO_CONFIGURE
        )
    return ModelError(f"model {model!r} failed: {kind}: {str(exc)[:500]}")
