"""How a structured output is asked for depends on the model (instructor's mode): tool calling
where litellm says the model has it (or does not know the model: OpenAI-compatible servers take
tools), a JSON schema response format, or JSON in a markdown block read from the text. Checked on
the wire against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import json

import pytest
from fake_llm_server import FakeLLMServer, Reply

from framework.config import load_settings
from framework.errors import ConfigurationError
from framework.llm import LiteLLMModel
from framework.llm.litellm_model import import_litellm, structured_mode_for
from framework.llm.messages import Message
from framework.steps.intent import Intent

INTENT = {"goal": "share a preference", "memory_query": "tea", "remember": True}


@pytest.mark.parametrize(
    ("model", "mode"),
    [("openai/gpt-4o-mini", "tools"), ("ollama/llama2", "md_json"), ("openai/some-local-model", "tools")],
)
def test_the_mode_follows_what_litellm_knows_of_the_model(model: str, mode: str) -> None:
    assert structured_mode_for(import_litellm(), model) == mode


@pytest.mark.parametrize("mode", ["tools", "json_schema", "md_json"])
def test_each_mode_goes_over_the_wire_and_comes_back_validated(mode: str) -> None:
    with FakeLLMServer() as server:
        if mode == "tools":
            server.default = Reply.tool_call(INTENT)
        elif mode == "json_schema":
            server.default = Reply.text_reply(json.dumps(INTENT))
        else:
            server.default = Reply.text_reply("Here it is:\n```json\n" + json.dumps(INTENT) + "\n```")
        model = LiteLLMModel(
            "openai/fake", api_base=server.url, api_key="sk-x", structured_mode=mode, deadline_s=10
        )
        out = model.structured([Message("user", "I prefer tea")], Intent)
        [request] = server.requests
    assert out.value.remember and out.value.memory_query == "tea"
    body = request.body
    assert ("tools" in body) == (mode == "tools")
    assert (body.get("response_format", {}).get("type") == "json_schema") == (mode == "json_schema")


def test_the_setting_is_checked(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK_STRUCTURED_MODE", "xml")
    with pytest.raises(ConfigurationError, match="structured_mode.*auto, tools, json_schema, md_json"):
        load_settings(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="structured_mode 'xml'"):
        LiteLLMModel("openai/fake", structured_mode="xml")
