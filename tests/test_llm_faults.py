"""Provider faults against a real OpenAI-compatible server (tests/fake_llm_server.py), not mocks.

Every transient fault, once then fine, is survived by a retry; persisting, it becomes a
ModelError that names the fault and the attempts, within the call's deadline. A refused key, an
unknown model or a missing key is ModelNotConfigured, not retried, naming what to set. The
deadline here is 2 s: `elapsed < DEADLINE + MARGIN` is a correctness bound, not a benchmark.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer, Reply
from pydantic import BaseModel

from framework.errors import ModelError, ModelNotConfigured
from framework.llm import LiteLLMModel, Message

DEADLINE = 2.0
MARGIN = 0.75  # litellm's own overhead per attempt, and a loaded CI machine
HI = [Message("user", "Ada Lovelace is 36.")]


class Contact(BaseModel):
    name: str
    age: int


ADA = {"name": "Ada", "age": 36}

# kind → (the reply that misbehaves, the words the ModelError uses for it)
TRANSIENT: dict[str, tuple[Callable[[], Reply], str]] = {
    "connection_reset": (Reply.reset, "connection reset"),
    "truncated_body": (Reply.truncated, "truncated body"),
    "http_500": (lambda: Reply.error(500), "server error 500"),
    "http_502": (lambda: Reply.error(502), "server error 502"),
    "http_503": (lambda: Reply.error(503), "server error 503"),
    "http_429": (lambda: Reply.rate_limited(0.2), "rate limited (429)"),
    "empty_choices": (Reply.empty_choices, "empty reply"),
    "null_message": (Reply.null_message, "reply without a message"),
    "malformed_json": (Reply.malformed_json, "malformed JSON body"),
    "slow_first_byte": (lambda: Reply.slow(30), "timeout"),
}
# structured calls only: the reply arrives, but what it carries does not validate
INVALID_OUTPUT: dict[str, Callable[[], Reply]] = {
    "arguments_not_json": lambda: Reply.tool_call('{"name": "Ada", "ag'),
    "arguments_violate_schema": lambda: Reply.tool_call({"name": "Ada"}),
}
ATTEMPT_TIMEOUT = 1.0  # half the deadline: a slow first byte once leaves time for one more attempt


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        # pay litellm's and instructor's first-call imports before anything is timed
        fake.enqueue(Reply.text_reply(), Reply.tool_call(ADA))
        warm = LiteLLMModel("openai/fake", api_base=fake.url, api_key="sk-fake")
        warm.complete(HI)
        warm.structured(HI, Contact)
        yield fake


@pytest.fixture
def fake(server: FakeLLMServer) -> FakeLLMServer:
    server.reset()
    return server


def model_for(fake: FakeLLMServer, **kwargs: Any) -> LiteLLMModel:
    settings: dict[str, Any] = {
        "api_base": fake.url, "api_key": "sk-fake", "deadline_s": DEADLINE, "timeout_s": ATTEMPT_TIMEOUT,
        "retries": 2, "backoff_s": 0.05,
    }
    return LiteLLMModel("openai/fake", **{**settings, **kwargs})


def call(model: LiteLLMModel, method: str) -> Any:
    return model.complete(HI) if method == "complete" else model.structured(HI, Contact)


def good_reply(method: str) -> Reply:
    return Reply.text_reply("Hello!") if method == "complete" else Reply.tool_call(ADA)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    return fn(), time.monotonic() - start


def failing(fn: Callable[[], Any], error: type[Exception] = ModelError) -> tuple[str, float]:
    """The message of the error `fn` raises (exactly `error`), and how long it took to come."""
    start = time.monotonic()
    with pytest.raises(error) as raised:
        fn()
    assert type(raised.value) is error
    return str(raised.value), time.monotonic() - start


def assert_succeeded(out: Any, method: str) -> None:
    if method == "complete":
        assert out.text == "Hello!" and out.tool_calls == []
    else:
        assert type(out.value) is Contact and out.value.model_dump() == ADA


METHODS = pytest.mark.parametrize("method", ["complete", "structured"])


@METHODS
@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_fault_once_is_retried(fake: FakeLLMServer, kind: str, method: str) -> None:
    fault, _ = TRANSIENT[kind]
    fake.enqueue(fault())
    fake.default = good_reply(method)
    out, elapsed = timed(lambda: call(model_for(fake), method))
    assert_succeeded(out, method)
    assert len(fake.requests) == 2
    assert elapsed < DEADLINE + MARGIN
    replies = 2 if kind == "empty_choices" else 1  # an empty reply still arrived, with its usage
    assert out.usage.calls == replies and out.usage.prompt_tokens == 10 * replies


@METHODS
@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_fault_persisting_is_a_model_error(fake: FakeLLMServer, kind: str, method: str) -> None:
    fault, words = TRANSIENT[kind]
    fake.default = fault()
    message, elapsed = failing(lambda: call(model_for(fake), method))
    assert message.startswith("model 'openai/fake' failed: " + words) and "\n" not in message
    attempts = len(fake.requests)
    if kind == "slow_first_byte":  # each attempt waits its timeout: the deadline ends it
        assert attempts == 2 and "deadline of 2 s reached" in message
    else:
        assert attempts == 3 and "no retries left (retries=2)" in message
    assert f"{attempts} attempts in " in message
    assert elapsed < DEADLINE + MARGIN


@METHODS
def test_connection_refused_is_retried_then_a_model_error(fake: FakeLLMServer, method: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = model_for(fake, api_base=f"http://127.0.0.1:{port}/v1")
    message, elapsed = failing(lambda: call(model, method))
    assert re.search(r"connection refused.*3 attempts", message) and "FRAMEWORK_API_BASE" in message
    assert elapsed < DEADLINE + MARGIN


@pytest.mark.parametrize("kind", INVALID_OUTPUT)
def test_invalid_structured_output_once_is_asked_again(fake: FakeLLMServer, kind: str) -> None:
    fake.enqueue(INVALID_OUTPUT[kind]())
    fake.default = Reply.tool_call(ADA)
    out = model_for(fake).structured(HI, Contact)
    assert out.value.model_dump() == ADA
    assert len(fake.requests) == 2
    assert out.usage.calls == 2 and out.usage.prompt_tokens == 20  # both replies were paid for
    reask = fake.requests[1].messages[-1]  # instructor sends the validation error back
    assert reask["role"] == "tool" and "validation error" in reask["content"]


@pytest.mark.parametrize("kind", INVALID_OUTPUT)
def test_invalid_structured_output_persisting_is_a_model_error(fake: FakeLLMServer, kind: str) -> None:
    fake.default = INVALID_OUTPUT[kind]()
    message, elapsed = failing(lambda: model_for(fake).structured(HI, Contact))
    assert re.search(r"invalid structured output.*3 attempts", message) and elapsed < DEADLINE + MARGIN
    assert len(fake.requests) == 3


def test_invalid_output_without_retries_is_one_request(fake: FakeLLMServer) -> None:
    fake.default = INVALID_OUTPUT["arguments_not_json"]()
    message, _ = failing(lambda: model_for(fake, retries=0).structured(HI, Contact))
    assert re.search(r"failed: invalid structured output.*1 attempt in", message)
    assert len(fake.requests) == 1


def test_invalid_tool_arguments_in_a_completion_are_the_act_steps_to_report(fake: FakeLLMServer) -> None:
    """Free-form completion: a tool call with bad arguments is an answer, not a fault."""
    fake.default = Reply.tool_call('{"city": "Par', name="get_weather")
    out = model_for(fake).complete(HI, [{"type": "function", "function": {"name": "get_weather"}}])
    [tool_call] = out.tool_calls
    assert tool_call.malformed == '{"city": "Par' and len(fake.requests) == 1


# permanent: the user must change something -------------------------------------------------

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def assert_advice(message: str, *needles: str) -> None:
    for needle in needles:
        assert needle in message, message
    assert set(FLAG.findall(message)) <= {"--model"}, f"a flag that does not exist: {message}"


@METHODS
@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_not_configured(
    fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, status: int, method: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    fake.default = Reply.unauthorized() if status == 401 else Reply.error(403, "forbidden")
    message, _ = failing(lambda: call(model_for(fake, api_key=None), method), ModelNotConfigured)
    assert_advice(message, "authentication failed", "OPENAI_API_KEY")
    assert len(fake.requests) == 1  # not retried


@METHODS
@pytest.mark.parametrize(
    "reply", [Reply.model_not_found(), Reply.error(400, "model 'fake' is not supported")], ids=["404", "400"]
)
def test_unknown_model_is_not_configured(fake: FakeLLMServer, reply: Reply, method: str) -> None:
    fake.default = reply
    message, _ = failing(lambda: call(model_for(fake), method), ModelNotConfigured)
    assert_advice(message, "unknown model", "--model", "FRAMEWORK_MODEL", "FRAMEWORK_API_BASE")
    assert len(fake.requests) == 1


@METHODS
@pytest.mark.parametrize(
    ("model", "variable"),
    [("openai/fake", "OPENAI_API_KEY"), ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY")],
)
def test_missing_key_is_not_configured_and_names_the_variable(
    fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, model: str, variable: str, method: str
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    api_base = fake.url if model.startswith("openai/") else None
    model_ = LiteLLMModel(model, api_base=api_base, deadline_s=DEADLINE)
    message, _ = failing(lambda: call(model_, method), ModelNotConfigured)
    assert_advice(message, "missing API key", f"set {variable}")
    assert fake.requests == []  # refused before any request


@METHODS
def test_unknown_provider_is_not_configured(fake: FakeLLMServer, method: str) -> None:
    unknown = LiteLLMModel("nosuchprovider/x", deadline_s=DEADLINE)
    message, _ = failing(lambda: call(unknown, method), ModelNotConfigured)
    assert_advice(message, "provider", "--model", "FRAMEWORK_MODEL")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply.error(400, "This model's maximum context length is 8192 tokens"), r"request refused \(400\)"),
        (Reply.error(429, "You exceeded your current quota", code="insufficient_quota"), "quota exhausted"),
    ],
    ids=["context_length", "quota"],
)
def test_a_fault_no_retry_can_fix_fails_at_once(fake: FakeLLMServer, reply: Reply, words: str) -> None:
    fake.default = reply
    message, _ = failing(lambda: model_for(fake).complete(HI))
    assert re.search(words + r".*1 attempt in .*not retried", message)
    assert len(fake.requests) == 1


# the deadline and Retry-After --------------------------------------------------------------


@METHODS
def test_persisting_faults_stop_at_the_deadline_not_the_budget(fake: FakeLLMServer, method: str) -> None:
    fake.default = Reply.error(503)
    model = model_for(fake, retries=1000, backoff_s=0.2)
    message, elapsed = failing(lambda: call(model, method))
    assert re.search(r"server error 503.*deadline of 2 s reached", message)
    assert 3 <= len(fake.requests) < 1000 and f"{len(fake.requests)} attempts in" in message
    assert DEADLINE - 1.0 < elapsed < DEADLINE + MARGIN  # it kept trying until near the end


@METHODS
def test_an_attempt_timeout_shrinks_to_the_deadline(fake: FakeLLMServer, method: str) -> None:
    fake.default = Reply.slow(30)
    model = model_for(fake, timeout_s=60.0)  # an attempt may take 60 s; the call may not
    message, elapsed = failing(lambda: call(model, method))
    assert re.search(r"timeout.*1 attempt in", message)
    assert DEADLINE - 0.5 < elapsed < DEADLINE + MARGIN
    assert len(fake.requests) == 1


@METHODS
@pytest.mark.parametrize(
    ("status", "header"),
    [(429, {"Retry-After": "0.6"}), (503, {"Retry-After": "0.6"}), (429, {"retry-after-ms": "600"})],
    ids=["429", "503", "429-ms"],
)
def test_retry_after_is_honoured(
    fake: FakeLLMServer, status: int, header: dict[str, str], method: str
) -> None:
    wait = 0.6
    fake.enqueue(Reply.error(status, headers=header))
    fake.default = good_reply(method)
    out = call(model_for(fake, backoff_s=0.01), method)
    assert_succeeded(out, method)
    first, second = fake.requests
    assert wait <= second.received_at - first.received_at < wait + MARGIN


@METHODS
def test_retry_after_beyond_the_deadline_fails_now(fake: FakeLLMServer, method: str) -> None:
    fake.default = Reply.rate_limited(30)
    message, elapsed = failing(lambda: call(model_for(fake), method))
    assert re.search(r"rate limited \(429\).*1 attempt in .*Retry-After 30 s is beyond", message)
    assert len(fake.requests) == 1 and elapsed < 1.0


# the fake server itself, as other tests and the benchmarks use it ----------------------------


@pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")
def test_fake_server_streams_with_a_time_to_first_byte_and_pacing(fake: FakeLLMServer) -> None:
    from framework.llm.litellm_model import import_litellm

    litellm = import_litellm()
    fake.default = Reply.text_reply("one two three four", ttfb_s=0.3, token_interval_s=0.05)
    start = time.monotonic()
    stream = litellm.completion(model="openai/fake", api_base=fake.url, api_key="sk-fake", stream=True,
                                messages=[m.to_openai() for m in HI])
    arrivals, words = [], []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
            words.append(chunk.choices[0].delta.content)
    assert "".join(words) == "one two three four"
    assert arrivals[0] >= 0.3 and arrivals[-1] - arrivals[0] >= 3 * 0.05
    [request] = fake.requests
    assert request.stream and request.path == "/v1/chat/completions"
    assert request.messages == [m.to_openai() for m in HI]


def test_fake_server_records_requests_and_answers_with_a_responder(fake: FakeLLMServer) -> None:
    fake.responder = lambda request: Reply.text_reply(f"you said {len(request.messages)} thing(s)")
    out = model_for(fake, temperature=0.0).complete(HI)
    assert out.text == "you said 1 thing(s)"
    [request] = fake.requests
    assert request.method == "POST" and request.body["model"] == "fake" and request.body["temperature"] == 0.0
    assert request.headers.get("Authorization") == "Bearer sk-fake"
