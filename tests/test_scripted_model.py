"""ScriptedModel: an honest fake LLM that fails loudly on anything it was not scripted for."""

from pathlib import Path

import pytest
from pydantic import BaseModel

from framework.errors import DefinitionError, ScriptError
from framework.llm.messages import Message
from framework.llm.testing import Fill, ScriptedModel, call, say


class Plan(BaseModel):
    goal: str
    steps: int = 1


class Verdict(BaseModel):
    ok: bool


USER = [Message("user", "deploy 1.4.2")]
DEPLOY = {"type": "function", "function": {"name": "deploy", "parameters": {}}}


def test_replies_in_order_and_records_requests() -> None:
    model = ScriptedModel([Plan(goal="ship"), call("deploy", version="1.4.2"), say("Done.")])
    assert model.structured(USER, Plan).value == Plan(goal="ship")
    completion = model.complete(USER, tools=[DEPLOY])
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [("deploy", {"version": "1.4.2"})]
    assert model.complete(USER).text == "Done."
    assert [r.kind for r in model.requests] == ["structured", "complete", "complete"]
    assert model.requests[0].text == "deploy 1.4.2"
    model.assert_consumed()


def test_a_callable_reply_sees_the_request() -> None:
    model = ScriptedModel([lambda req: say(f"you said: {req.text}")])
    assert model.complete(USER).text == "you said: deploy 1.4.2"


def test_structured_reply_of_the_wrong_type_fails() -> None:
    model = ScriptedModel([Verdict(ok=True)])
    with pytest.raises(
        ScriptError,
        match=r"asked for Plan \(call #1\) but the script has no reply of that kind left; next: Verdict",
    ):
        model.structured(USER, Plan)


def test_fill_is_validated_against_the_requested_type() -> None:
    assert ScriptedModel([Fill({"goal": "g", "steps": 3})]).structured(USER, Plan).value.steps == 3
    with pytest.raises(ScriptError, match="scripted Plan is invalid"):
        ScriptedModel([Fill({"steps": "many"})]).structured(USER, Plan)
    with pytest.raises(
        ScriptError, match="asked for Plan .* no reply of that kind left; next: Fill.*Verdict"
    ):
        ScriptedModel([Fill({"goal": "g"}, expect="Verdict")]).structured(USER, Plan)


def test_completion_where_structured_was_scripted_fails() -> None:
    model = ScriptedModel([Plan(goal="ship")])
    with pytest.raises(ScriptError, match="asked for a completion .* no reply of that kind left; next: Plan"):
        model.complete(USER)


def test_structured_where_completion_was_scripted_fails() -> None:
    with pytest.raises(ScriptError, match="asked for Plan .* no reply of that kind left; next: Say"):
        ScriptedModel([say("hi")]).structured(USER, Plan)


def test_replies_are_matched_by_kind_in_the_order_written() -> None:
    # the runtime asks for the answer first and the intent after it: each kind keeps its order
    model = ScriptedModel([Plan(goal="first"), say("one"), Verdict(ok=True), Plan(goal="second"), say("two")])
    assert model.complete(USER).text == "one"
    assert model.structured(USER, Verdict).value.ok is True
    assert model.structured(USER, Plan).value.goal == "first"
    assert model.complete(USER).text == "two"
    assert model.structured(USER, Plan).value.goal == "second"
    model.assert_consumed()


def test_a_streamed_reply_comes_word_by_word_then_whole() -> None:
    pieces = list(ScriptedModel([say("ship it now")]).stream(USER))
    assert pieces[:-1] == ["ship", " it", " now"] and pieces[-1].text == "ship it now"


def test_exhausted_script_fails_with_the_last_message() -> None:
    model = ScriptedModel([say("only one")])
    model.complete(USER)
    with pytest.raises(ScriptError, match=r"unexpected call #2 .* exhausted.*deploy 1\.4\.2"):
        model.complete(USER)


def test_tool_not_offered_fails() -> None:
    model = ScriptedModel([call("rm_rf", path="/")])
    with pytest.raises(ScriptError, match=r"tool 'rm_rf' but the runtime offered \['deploy'\]"):
        model.complete(USER, tools=[DEPLOY])


def test_assert_consumed_reports_leftovers() -> None:
    model = ScriptedModel([say("one"), say("two")])
    model.complete(USER)
    assert model.remaining == 1
    with pytest.raises(ScriptError, match="1 unconsumed repl.*two"):
        model.assert_consumed()
    assert isinstance(ScriptError("x"), AssertionError)


def test_from_file_loads_say_call_and_fill(tmp_path: Path) -> None:
    script = tmp_path / "deploy.yaml"
    script.write_text(
        "- fill: {goal: ship, steps: 2}\n  type: Plan\n"
        "- call: {name: deploy, arguments: {version: 1.4.2}}\n"
        "- call: [{name: deploy}, {name: deploy, arguments: {version: rollback-1}}]\n"
        "- say: All done.\n"
    )
    model = ScriptedModel.from_file(script)
    assert model.name == "scripted:deploy.yaml" and model.remaining == 4
    assert model.structured(USER, Plan).value == Plan(goal="ship", steps=2)
    assert model.complete(USER, tools=[DEPLOY]).tool_calls[0].arguments == {"version": "1.4.2"}
    assert [c.arguments for c in model.complete(USER, tools=[DEPLOY]).tool_calls] == [
        {},
        {"version": "rollback-1"},
    ]
    assert model.complete(USER).text == "All done."
    model.assert_consumed()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- say: [unclosed\n", "cannot read script"),
        ("say: hello\n", "a script is a YAML list"),
        ("- say: hi\n- shout: HI\n", "reply #2: expected one of say, call, fill"),
        ("- call: {arguments: {}}\n", "reply #1: call needs name"),
        ("- fill: just text\n", "reply #1: fill must be a mapping"),
        ("- plain string\n", "reply #1: expected a mapping"),
    ],
)
def test_from_file_rejects_a_bad_file_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text(text)
    with pytest.raises(DefinitionError) as exc:
        ScriptedModel.from_file(script)
    assert str(script) in str(exc.value) and problem in str(exc.value)


def test_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="nope.yaml"):
        ScriptedModel.from_file(tmp_path / "nope.yaml")
