"""Wire-level tests of LiteLLMModel: HTTP exchanges with a real OpenAI-compatible server
(llama-cpp-python + SmolLM2-135M) recorded in cassettes/ and replayed strictly, with no server.

An unrecorded or changed request (prompt, schema, litellm body) fails: re-record with the server
up (`../shared/tools/local-llm-server start`): `FRAMEWORK_RECORD=1 pytest tests/test_llm_wire.py`.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
import vcr
from pydantic import BaseModel, Field, field_validator
from vcr.cassette import Cassette

from framework import Agent
from framework.llm import LiteLLMModel, Message
from framework.memory.rewrite import MAX_KEYWORDS, QueryRewriter
from framework.steps.intent import Intent, detect_intent
from framework.steps.memorize import worth_extracting
from framework.tools import build_spec

pytestmark = pytest.mark.wire

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
RECORDING = os.environ.get("FRAMEWORK_RECORD") == "1"
API_BASE = "http://127.0.0.1:8765/v1"
API_KEY = "sk-local"
_KEEP_REQUEST_HEADERS = {"content-type", "user-agent"}
_DROP_RESPONSE_HEADERS = {"content-length", "date", "x-request-id", "openai-processing-ms"}
_PYDANTIC_URL = re.compile(rb"errors\.pydantic\.dev/[0-9.]+/")


def _map_bodies(cassette: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    for item in cassette["interactions"]:
        item["request"]["body"] = fn(item["request"]["body"])
        item["response"]["body"]["string"] = fn(item["response"]["body"]["string"])
    return cassette


def _parsed(body: Any) -> Any:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        return {"json": json.loads(text)} if isinstance(text, str) and text else body
    except json.JSONDecodeError:
        return body


def _compact(body: Any) -> Any:
    if isinstance(body, dict) and set(body) == {"json"}:
        return json.dumps(body["json"], separators=(",", ":"), ensure_ascii=False)
    return body


class _PrettyJSON:
    """Cassettes as indented JSON with JSON bodies stored parsed (readable, diffable). Bodies are
    re-serialised compactly on load: vcr's `body` matcher compares JSON bodies parsed."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:  # a copy: vcr keeps using these dicts
        pretty = _map_bodies(copy.deepcopy(cassette), _parsed)
        return json.dumps(pretty, indent=2, ensure_ascii=False) + "\n"

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        return _map_bodies(json.loads(text), _compact)


def _scrub_request(request: Any) -> Any:
    if isinstance(request.body, bytes):  # instructor's retry message cites the pydantic version
        request.body = _PYDANTIC_URL.sub(rb"errors.pydantic.dev/VERSION/", request.body)
    for name in list(request.headers):
        if name.lower() not in _KEEP_REQUEST_HEADERS:
            del request.headers[name]  # Authorization (the api key) among them
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {
        k: v for k, v in response["headers"].items() if k.lower() not in _DROP_RESPONSE_HEADERS
    }
    return response


WIRE = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    serializer="prettyjson",
    record_mode="all" if RECORDING else "none",
    match_on=["method", "scheme", "host", "port", "path", "query", "body"],
    filter_headers=["authorization", "api-key", "x-api-key"],
    before_record_request=_scrub_request,
    before_record_response=_scrub_response,
)
WIRE.register_serializer("prettyjson", _PrettyJSON)


@contextmanager
def cassette(name: str) -> Iterator[Cassette]:
    if RECORDING:  # "all" mode would keep old interactions that no request matches any more
        (CASSETTES / f"{name}.json").unlink(missing_ok=True)
    with WIRE.use_cassette(f"{name}.json", allow_playback_repeats=False) as tape:
        yield tape
    if RECORDING:  # nothing to play; what was written must be scrubbed
        text = (CASSETTES / f"{name}.json").read_text()
        assert API_KEY not in text and "authorization" not in text.lower()


def assert_replayed(tape: Cassette) -> None:
    if not RECORDING:
        assert len(tape) > 0 and tape.all_played, f"{tape.play_count}/{len(tape)} played"


def smollm(**kwargs: Any) -> LiteLLMModel:
    """Greedy sampling: re-recording reproduces the same exchanges (ids and times aside)."""
    return LiteLLMModel("openai/smollm2", api_base=API_BASE, api_key=API_KEY, temperature=0.0, **kwargs)


def test_plain_completion() -> None:
    with cassette("plain_completion") as tape:
        model = LiteLLMModel("openai/smollm2", api_base=API_BASE, api_key=API_KEY)
        out = model.complete([Message("user", "Say hello in one word.")])
    assert_replayed(tape)
    assert isinstance(out.text, str) and out.text.strip() and out.tool_calls == []
    assert out.usage.calls == 1
    assert out.usage.prompt_tokens > 0 and out.usage.completion_tokens > 0


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city.

    Args:
        city: the city's name, e.g. Paris
        unit: the temperature unit
    """
    return f"sunny in {city}"


def test_forced_tool_call() -> None:
    spec = build_spec(get_weather, "get_weather", "test_llm_wire")
    model = smollm(tool_choice={"type": "function", "function": {"name": "get_weather"}})
    with cassette("tool_call") as tape:
        out = model.complete([Message("user", "What is the weather in Paris?")], [spec.schema()])
    assert_replayed(tape)
    [call] = out.tool_calls
    assert call.name == "get_weather" and call.id and call.malformed is None
    assert isinstance(call.arguments, dict) and isinstance(spec.validate(call.arguments)["city"], str)
    assert out.usage.calls == 1 and out.usage.prompt_tokens > 0


class Contact(BaseModel):
    name: str = Field(description="the person's full name")
    age: int = Field(description="the person's age in years")


def test_structured_output() -> None:
    messages = [
        Message("system", "Extract the person described by the user."),
        Message("user", "Ada Lovelace is 36 years old."),
    ]
    with cassette("structured_contact") as tape:
        out = smollm().structured(messages, Contact)
    assert_replayed(tape)
    assert isinstance(out.value, Contact)
    # compare dumps: instructor returns an instance of its own subclass of Contact (carrying
    # _raw_response), so `==` with a plain Contact is False
    assert Contact.model_validate(out.value.model_dump()).model_dump() == out.value.model_dump()
    assert out.usage.calls == 1 and out.usage.prompt_tokens > 0


def test_structured_intent() -> None:
    with cassette("structured_intent") as tape:
        intent, usage = detect_intent(smollm(), "I prefer tea over coffee")
    assert_replayed(tape)
    assert isinstance(intent, Intent) and isinstance(intent.goal, str)
    assert usage.calls == 1 and usage.prompt_tokens > 0


def test_structured_query_rewrite() -> None:
    with cassette("structured_query_rewrite") as tape:
        hints = QueryRewriter(smollm()).rewrite("Would Ada make a career as an author?")
    assert_replayed(tape)
    assert hints.failed is None and hints.usage.calls == 1 and hints.usage.prompt_tokens > 0
    assert isinstance(hints.keywords, tuple) and len(hints.keywords) <= MAX_KEYWORDS
    assert hints.keywords or hints.guess  # the model said something to search with


class Shout(BaseModel):
    word: str

    @field_validator("word")
    @classmethod
    def _exactly_hello(cls, value: str) -> str:
        if value != "HELLO":
            raise ValueError('word must be exactly "HELLO"')
        return value


def test_structured_retry_sends_the_validation_error_back() -> None:
    with cassette("structured_retry") as tape:
        out = smollm(retries=2).structured([Message("user", "Greet me in one word.")], Shout)
    assert_replayed(tape)
    assert out.value.word == "HELLO"
    assert len(tape) > 1, "re-record: the model got it right first time, nothing was retried"
    retry = json.loads(tape.requests[1].body)["messages"]
    assert retry[-1]["role"] == "tool" and 'must be exactly "HELLO"' in retry[-1]["content"]
    recorded = [json.loads(r["body"]["string"])["usage"] for r in tape.responses]
    assert out.usage.prompt_tokens == sum(u["prompt_tokens"] for u in recorded)
    assert out.usage.completion_tokens == sum(u["completion_tokens"] for u in recorded)
    assert out.usage.calls == len(tape)


class WireAgent(Agent):
    name = "wire"
    instructions = "You are a helpful assistant. Answer briefly."


def test_agent_turn(home: Path) -> None:
    agent = WireAgent(model=smollm(), home=home, embedder="hash")
    try:
        with cassette("agent_turn") as tape:
            turn = agent.session("u1", "s1").send("I prefer tea over coffee")
    finally:
        agent.close()
    assert_replayed(tape)
    assert isinstance(turn.intent, Intent)
    assert isinstance(turn.answer, str) and turn.answer
    assert turn.outcome is not None
    assert turn.error is None, turn.error  # an unrecorded request lands here ("Connection error")
    # the answer first, streamed; then, after it, the intent, and the extraction only if the intent
    # flagged remember/forget/correction or the outcome failed; no memories exist, so no comparison
    first = json.loads(tape.requests[0].body)
    assert first["stream"] is True and first["messages"][-1]["content"] == "I prefer tea over coffee"
    assert "describe what the user wants" in json.loads(tape.requests[1].body)["messages"][0]["content"]
    extracted = worth_extracting(turn.intent, turn.outcome)
    assert turn.usage.calls == len(tape) == 2 + extracted
    assert turn.memory_usage.calls == extracted
    assert turn.answer_usage.calls == 1 and turn.answer_usage.completion_tokens > 0  # stream usage read
