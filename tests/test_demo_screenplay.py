"""The demo's screenplay (framework/cli/demo_screenplay.yaml) is data: it loads, names only agents
that ship, and a malformed one is refused with the file and the field it gets wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from framework.cli.demo import API_KEY, SCREENPLAY, load_screenplay
from framework.errors import DefinitionError
from framework.resources import shipped_folder


def screenplay(replies: list[Any]) -> dict[str, Any]:
    """A one-scene, one-line screenplay with these replies."""
    return {
        "scenes": [
            {
                "title": "t",
                "agent": "assistant",
                "user": "ada",
                "session": "s1",
                "lines": [{"you": "hello there", "replies": replies}],
            }
        ]
    }


def test_the_shipped_screenplay_loads_and_its_agents_exist() -> None:
    play = load_screenplay()
    assert play.scenes and all(scene.lines for scene in play.scenes)
    for scene in play.scenes:
        assert (shipped_folder("agents") / f"{scene.agent}.py").is_file(), scene.agent
    said = "\n".join(line.you for scene in play.scenes for line in scene.lines)
    assert API_KEY in said and "{api_key}" not in said  # the placeholder is filled in


def test_a_well_formed_screenplay_of_every_reply_kind_loads(tmp_path: Path) -> None:
    replies: list[dict[str, Any]] = [
        {"intent": {"goal": "g", "remember": True}},
        {"say": "hi"},
        {"call": {"tool": "deploy", "args": {"version": "2.0"}}},
        {"remember": {"content": "c", "relation": "refines", "target_listed": "words"}},
        {"forget_listed": {"words": "w", "reason": "r"}},
        {"nothing": True},
        {"answer_if_known": {"words": "w", "known": "yes", "unknown": "no"}},
        {"if_denied": {"then": {"say": "a"}, "otherwise": {"nothing": True}}},
    ]
    path = tmp_path / "play.yaml"
    path.write_text(yaml.safe_dump(screenplay(replies)))
    steps = load_screenplay(path).scenes[0].lines[0].replies
    assert [step.kind for step in steps] == [next(iter(r)) for r in replies]
    assert steps[3].remember is not None and steps[3].remember.type == "fact"  # the default


@pytest.mark.parametrize(
    ("reply", "field", "problem"),
    [
        ({"sya": "hi"}, "scenes[0].lines[0].replies[0].sya", "unknown key"),
        ({"call": {"args": {}}}, "scenes[0].lines[0].replies[0].call.tool", "missing"),
        ({"intent": {"goal": "g", "remembr": True}}, "replies[0].intent.remembr", "unknown key"),
        ({"say": "a", "nothing": True}, "scenes[0].lines[0].replies[0]", "exactly one of"),
        ({"remember": {"content": "c", "type": "opinion"}}, "replies[0].remember.type", "'preference'"),
        ({"remember": {"content": "c", "relation": "refines"}}, "replies[0].remember", "target_listed"),
        ({"if_denied": {"then": {"say": "a"}}}, "replies[0].if_denied.otherwise", "missing"),
    ],
)
def test_a_malformed_screenplay_names_the_file_and_the_field(
    tmp_path: Path, reply: dict[str, Any], field: str, problem: str
) -> None:
    path = tmp_path / "play.yaml"
    path.write_text(yaml.safe_dump(screenplay([reply])))
    with pytest.raises(DefinitionError) as caught:
        load_screenplay(path)
    message = str(caught.value)
    assert str(path) in message and f"{field}: " in message and problem in message, message


def test_a_scene_without_its_lines_or_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "play.yaml"
    scene = {"title": "t", "agent": "assistant", "user": "u", "session": "s"}
    path.write_text(yaml.safe_dump({"scenes": [scene]}))
    with pytest.raises(DefinitionError, match=r"play\.yaml: .*\n  scenes\[0\]\.lines: missing"):
        load_screenplay(path)
    path.write_text("scenes: [unclosed")
    with pytest.raises(DefinitionError, match=r"play\.yaml: cannot read the screenplay"):
        load_screenplay(path)


def test_the_shipped_screenplay_documents_every_reply_kind() -> None:
    from dataclasses import fields

    from framework.cli.demo import Step

    header = SCREENPLAY.read_text().split("\nscenes:")[0]
    for kind in (f.name for f in fields(Step)):
        assert f"#   {kind}: " in header, kind
