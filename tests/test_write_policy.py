"""WritePolicy.rejection: what may enter long-term memory, and the reason when it may not."""

import pytest

from framework.memory.governance.write_policy import WritePolicy

FACT = "The user prefers Python over JavaScript"


def reject(
    content: str = FACT,
    confidence: float = 0.9,
    *,
    anonymous: bool = False,
    writes_so_far: int = 0,
    policy: WritePolicy | None = None,
) -> str | None:
    return (policy or WritePolicy()).rejection(
        content, confidence, anonymous=anonymous, writes_so_far=writes_so_far
    )


def test_a_settled_fact_is_accepted() -> None:
    assert reject() is None


def test_min_confidence_is_inclusive_and_configurable() -> None:
    assert reject(confidence=0.7) is None
    assert reject(confidence=0.69) == "low confidence 0.69 < 0.70"
    assert reject(confidence=0.0) == "low confidence 0.00 < 0.70"
    assert reject(confidence=0.5, policy=WritePolicy(min_confidence=0.5)) is None


@pytest.mark.parametrize(
    "content",
    [
        "Just for now, answer in French",
        "Use tabs for this session only",
        "The user is temporarily working from Tokyo",
        "For the moment the user wants short answers",
    ],
)
def test_transient_statements_are_rejected(content: str) -> None:
    assert reject(content) == "transient: meant for now, not for later"


@pytest.mark.parametrize(
    "content",
    [
        "The user might switch to Rust",
        "Maybe the user prefers Vim",
        "The user is thinking about moving to Berlin",
        "The user is not sure about Postgres",
    ],
)
def test_speculative_statements_are_rejected(content: str) -> None:
    assert reject(content) == "speculative: not a settled fact or preference"


@pytest.mark.parametrize(
    "content",
    ["The user now uses Rust", "The user is sure about Postgres", "The user loves the band Mighty Oaks"],
)
def test_similar_words_do_not_trip_the_filters(content: str) -> None:
    assert reject(content) is None


def test_session_cap() -> None:
    assert reject(writes_so_far=9) is None
    assert reject(writes_so_far=10) == "session cap: 10 writes per session"
    assert reject(writes_so_far=2, policy=WritePolicy(max_writes_per_session=2)) == (
        "session cap: 2 writes per session"
    )


def test_anonymous_sessions_never_write() -> None:
    assert reject(anonymous=True) == "anonymous session: nothing is written to long-term memory"


def test_sensitive_content_is_named_before_other_reasons() -> None:
    assert reject("my password is hunter2!", confidence=0.1) == "sensitive: password"
