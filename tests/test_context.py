"""Token counting offline, and fitting a prompt under a budget by evicting the oldest history."""

import pytest

from framework.llm.messages import Message, ToolCall
from framework.memory.context import ContextWindow, TokenCounter

SYSTEM = Message("system", "You are a careful deployment assistant. Follow every policy.")
CURRENT = [Message("user", "Deploy version 1.4.2 to production please")]


def history(n: int) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", f"message {i}: " + "lorem ipsum " * 10)
            for i in range(n)]


@pytest.mark.parametrize("model", [None, "gpt-4o-mini", "anthropic/claude-sonnet-4"])
def test_token_counter_works_offline(model: str | None) -> None:
    counter = TokenCounter(model)
    short, long = counter.count("hello"), counter.count("hello world, " * 50)
    assert 0 < short < long
    assert counter.count("") == 0


def test_tool_calls_count_towards_a_message() -> None:
    counter = TokenCounter()
    plain = Message("assistant", "ok")
    with_call = Message("assistant", "ok", [ToolCall("c1", "deploy", {"version": "1.4.2"})])
    assert counter.count_message(with_call) > counter.count_message(plain) > 0


def test_everything_fits_when_the_budget_allows() -> None:
    past = history(4)
    window = ContextWindow(10_000, TokenCounter()).fit(SYSTEM, past, CURRENT)
    assert window.messages == [SYSTEM, *past, *CURRENT]
    assert window.evicted == 0


def test_oldest_history_is_evicted_first_and_budget_holds() -> None:
    counter = TokenCounter()
    past = history(10)
    fixed = counter.count_message(SYSTEM) + counter.count_message(CURRENT[0])
    per_line = counter.count_message(past[-1])
    budget = fixed + 3 * per_line + per_line // 2  # room for three and a half lines

    window = ContextWindow(budget, counter).fit(SYSTEM, past, CURRENT)
    assert window.messages == [SYSTEM, *past[-3:], *CURRENT]
    assert window.evicted == 7
    assert window.tokens == sum(counter.count_message(m) for m in window.messages) <= budget
    assert window.budget == budget


def test_system_and_current_are_kept_even_when_nothing_else_fits() -> None:
    window = ContextWindow(1, TokenCounter()).fit(SYSTEM, history(3), CURRENT)
    assert window.messages == [SYSTEM, *CURRENT]
    assert window.evicted == 3
