"""Provider faults, and the retry policy that acts on them.

Every exception a model call can raise (litellm's, the OpenAI SDK's and httpx's beneath them,
instructor's parse errors, our own check of the reply) is reduced to a Fault: a short kind for
messages and logs, and a severity. Transient (a dropped connection, 5xx, 429, a timeout, an empty
or unreadable reply, structured output that does not validate): retry. Config (the key, the
model name): the user must change something, never retry. Fatal (a bad request, a reply cut at
max_tokens, anything unexpected): retrying cannot help. litellm reports a dropped connection, a
body that is not JSON and a missing OpenAI key all as InternalServerError (500), so the cause
chain is read before the status code.

A CallBudget runs one call under a RetryPolicy: backoff with full jitter, Retry-After honoured,
never past the call's deadline nor its attempt budget, each attempt's timeout cut to what is left.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Any

TRANSIENT, CONFIG, FATAL = "transient", "config", "fatal"

_MISSING_KEY = re.compile(
    r"missing credentials|no key is set|api[_ ]key client option must be set|missing \w+ api key"
    r"|api[_ ]key (?:is )?(?:not set|missing|required)",
    re.IGNORECASE,
)
_MODEL_UNKNOWN = re.compile(
    r"LLM Provider NOT provided|(?:unknown|invalid|unsupported|no such) model"
    r"|model\b.{0,80}?\b(?:not found|does not exist|is not supported|not supported|is not available)",
    re.IGNORECASE | re.DOTALL,
)
_PARSE_ERRORS = {"ValidationError", "JSONDecodeError", "ResponseParsingError", "AsyncValidationError"}
_NOT_THE_MODEL = {"ContextWindowExceededError", "ContentPolicyViolationError", "UnsupportedParamsError"}

log = logging.getLogger("framework.llm")


@dataclass(frozen=True)
class Fault:
    """One failed attempt, classified."""

    kind: str  # e.g. "connection reset", "server error 503", "authentication failed"
    severity: str  # TRANSIENT | CONFIG | FATAL
    detail: str = ""  # the provider's own words, shortened
    retry_after_s: float | None = None  # what the provider asked for (429, 503)

    @property
    def transient(self) -> bool:
        return self.severity == TRANSIENT

    def describe(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


class EmptyReply(Exception):
    """A 200 reply with nothing to read in it: no choices, or a choice without a message."""


class OutOfTime(Exception):
    """The call's deadline leaves no time for another attempt."""


def check_reply(response: Any) -> None:
    """Raise EmptyReply unless the response has a first choice carrying a message."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise EmptyReply("no choices")
    if getattr(choices[0], "message", None) is None:
        raise EmptyReply("a choice without a message")


def classify(exc: BaseException) -> Fault:
    """The Fault behind an exception raised by one attempt."""
    if isinstance(exc, EmptyReply):
        return Fault("empty reply", TRANSIENT, str(exc))
    chain = _chain(exc)
    names = [type(e).__name__ for e in chain]
    text = " | ".join(str(e) for e in chain)
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if _MISSING_KEY.search(text):
        return Fault("missing API key", CONFIG, _short(exc))
    if type(exc).__name__ in _PARSE_ERRORS:  # raised by instructor parsing a reply that arrived
        return Fault("invalid structured output", TRANSIENT, _short(exc))
    if type(exc).__name__ == "IncompleteOutputException":
        return Fault("reply cut at max_tokens", FATAL, _short(exc))
    transport = _transport_fault(chain, names)
    if transport is not None:
        return transport
    if "JSONDecodeError" in names:
        return Fault("malformed JSON body", TRANSIENT, _short(chain[names.index("JSONDecodeError")]))
    if "Invalid response object" in text:  # litellm could not build a reply from the body
        if "'message': None" in text:
            return Fault("reply without a message", TRANSIENT, "message: null")
        return Fault("malformed reply", TRANSIENT, _short(chain[-1]))
    return _status_fault(exc, status, text) or Fault(f"unexpected {type(exc).__name__}", FATAL, _short(exc))


def _transport_fault(chain: list[BaseException], names: list[str]) -> Fault | None:
    """Faults below HTTP: the connection, or the clock."""
    if any("Timeout" in n for n in names):
        return Fault("timeout", TRANSIENT, "no reply within the attempt's time")
    for e in chain:
        name = type(e).__name__
        if name in ("ConnectError", "ConnectionRefusedError"):
            return Fault("connection refused", TRANSIENT, _short(e))
        if name in ("ReadError", "WriteError", "ConnectionResetError", "BrokenPipeError"):
            return Fault("connection reset", TRANSIENT, _short(e))
        if name == "RemoteProtocolError":
            incomplete = "complete message body" in str(e)
            return Fault("truncated body" if incomplete else "connection closed", TRANSIENT, _short(e))
    if any(n in ("APIConnectionError", "NetworkError", "TransportError") for n in names):
        return Fault("connection error", TRANSIENT, _short(chain[0]))
    return None


def _status_fault(exc: BaseException, status: int | None, text: str) -> Fault | None:
    """Faults the provider reported with an HTTP status."""
    if status is None:
        return None
    name = type(exc).__name__
    if status in (401, 403):
        return Fault("authentication failed", CONFIG, _short(exc))
    if status == 404:
        return Fault("unknown model", CONFIG, _short(exc))
    if status in (400, 422) and name not in _NOT_THE_MODEL and _MODEL_UNKNOWN.search(text):
        return Fault("unknown model", CONFIG, _short(exc))
    if status == 408:
        return Fault("timeout", TRANSIENT, _short(exc))
    if status == 429 and "quota" in text.lower():  # billing, not load: waiting will not help
        return Fault("quota exhausted (429)", FATAL, _short(exc))
    if status in (409, 429) or status >= 500:
        kind = "rate limited (429)" if status == 429 else f"server error {status}"
        return Fault(kind, TRANSIENT, _short(exc), _retry_after(exc))
    return Fault(f"request refused ({status})", FATAL, _short(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 12:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _short(exc: BaseException, limit: int = 200) -> str:
    """The exception's message on one line, without litellm's repeated class-name prefixes."""
    text = " ".join(str(exc).split("Traceback (most recent call last)")[0].split())
    text = re.sub(r"^(?:(?:litellm\.)?\w+(?:Error|Exception)(?::| -) )+", "", text)
    text = re.sub(r" For further information visit \S+", "", text)  # pydantic's links
    return text[:limit] + ("…" if len(text) > limit else "")


def _retry_after(exc: BaseException) -> float | None:
    """Retry-After (seconds or an HTTP date) or retry-after-ms from the provider's response."""
    for e in _chain(exc):
        headers = getattr(e, "litellm_response_headers", None) or getattr(
            getattr(e, "response", None), "headers", None
        )
        if headers and headers.get("retry-after-ms") is not None:
            return _seconds(headers["retry-after-ms"], 0.001)
        if headers and headers.get("retry-after") is not None:
            return _seconds(headers["retry-after"], 1.0)
    return None


def _seconds(value: Any, scale: float) -> float | None:
    try:
        return max(0.0, float(value) * scale)
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(str(value)).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """One call's bounds: `retries` more attempts at most, all (waits too) within `deadline_s`."""

    retries: int = 2
    deadline_s: float = 60.0
    timeout_s: float = 60.0
    backoff_s: float = 0.5  # the first wait's ceiling; it doubles per attempt (full jitter)
    backoff_cap_s: float = 8.0

    @property
    def min_attempt_s(self) -> float:
        """No attempt starts with less time than this left of the deadline."""
        return min(1.0, 0.1 * self.deadline_s)

    def start(self, label: str) -> CallBudget:
        return CallBudget(self, label)


class CallBudget:
    """One call's attempts under a RetryPolicy: hands each attempt its timeout (what is left of
    the deadline), decides after each failure whether and when to try again, and keeps the
    faults seen and why it stopped, for the error message."""

    def __init__(self, policy: RetryPolicy, label: str) -> None:
        self.policy = policy
        self.label = label
        self.started = time.monotonic()
        self.attempts = 0
        self.faults: list[Fault] = []
        self.stopped = ""  # why no further attempt was made
        self.last_error: BaseException | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return self.policy.deadline_s - self.elapsed

    def attempt_timeout(self) -> float:
        """Count a new attempt and return its timeout; OutOfTime when too little time is left."""
        left = self.remaining
        if left < self.policy.min_attempt_s:
            raise OutOfTime(f"{max(left, 0):.1f} s left of the {self.policy.deadline_s:g} s deadline")
        self.attempts += 1
        # rounded down to whole seconds (tenths below 2 s): litellm caches an HTTP client per
        # distinct timeout, and a handful of values keeps connections reused across calls
        seconds = min(self.policy.timeout_s, left)
        step = 1.0 if seconds >= 2 else 0.1
        return max(0.1, round(math.floor(seconds / step) * step, 1))

    def record(self, exc: BaseException) -> Fault | None:
        """Classify a failed attempt's exception and keep it (None for running out of time)."""
        self.last_error = exc
        if isinstance(exc, OutOfTime):
            self.stopped = f"deadline of {self.policy.deadline_s:g} s reached"
            return None
        fault = classify(exc)
        self.faults.append(fault)
        self.stopped = "" if fault.transient else "not retried"
        return fault

    def after_failure(self, exc: BaseException) -> float | None:
        """Seconds to wait before the next attempt, or None: no further attempt. A backoff is
        cut short to leave time for one more attempt; a Retry-After is not (the provider said
        not before): when it does not fit in the deadline the call stops now."""
        fault = self.record(exc)
        if fault is None or not fault.transient:
            return None
        if self.attempts > self.policy.retries:
            self.stopped = f"no retries left (retries={self.policy.retries})"
            return None
        spare = self.remaining - self.policy.min_attempt_s  # what a wait may use
        if fault.retry_after_s is not None and fault.retry_after_s > spare:
            left = max(self.remaining, 0)
            self.stopped = f"Retry-After {fault.retry_after_s:g} s is beyond the {left:.1f} s left"
            return None
        if spare < 0:
            self.stopped = f"deadline of {self.policy.deadline_s:g} s reached"
            return None
        ceiling = min(self.policy.backoff_cap_s, self.policy.backoff_s * 2 ** (self.attempts - 1))
        delay = min(random.uniform(0, ceiling), spare) if fault.retry_after_s is None else fault.retry_after_s
        log.info(
            "%s: %s on attempt %d, retrying in %.2f s", self.label, fault.describe(), self.attempts, delay
        )
        return delay

    def failure(self) -> str:
        """One line: the last fault, the attempts, the time, why it stopped."""
        what = self.faults[-1].describe() if self.faults else "no attempt made"
        plural = "" if self.attempts == 1 else "s"
        return f"{what}; {self.attempts} attempt{plural} in {self.elapsed:.1f} s, {self.stopped or 'stopped'}"

    def retrying(self) -> Any:
        """A tenacity Retrying driven by this budget: `retrying(fn, ...)` runs fn until it
        succeeds or the budget says stop (then fn's last exception is raised). instructor accepts
        it as max_retries, so a structured call's re-asks share the same budget."""
        from tenacity import RetryCallState, Retrying, stop_never

        delays: dict[int, float] = {}

        def retry(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome is not None and state.outcome.failed else None
            delay = self.after_failure(exc) if exc is not None else None
            if delay is None:
                return False
            delays[state.attempt_number] = delay
            return True

        def wait(state: RetryCallState) -> float:
            return delays.get(state.attempt_number, 0.0)

        return Retrying(retry=retry, wait=wait, stop=stop_never, reraise=True)
