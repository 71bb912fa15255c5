"""OpenTelemetry traces, read back with the SDK's in-memory exporter: the turn, its steps, each LLM
call (GenAI conventions: model, tokens, finish reason, latency), each tool call with the gate's
verdict and policy versions, the recall (counts, top scores) and the memory work after the answer
(each operation an event) — and none of what the user said or memory holds, unless asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer, Reply
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.assistant import Assistant
from agents.devops import DevOps
from framework.llm import LiteLLMModel
from framework.llm.testing import ScriptedModel, call, say
from framework.memory.governance import Extraction, MemoryCandidate
from framework.memory.longterm import MemoryType
from framework.steps.intent import Intent

SECRET_WORDS = "my cat is called Whiskerbottom"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # set once per process, as an application does
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    exporter.shutdown()  # later tests' spans are not kept


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    assert span.parent is not None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


def under(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def test_a_turn_is_traced_step_by_step_with_the_gate_and_the_memory_work(
    home: Path, spans: InMemorySpanExporter
) -> None:
    model = ScriptedModel(
        [
            call("deploy_to_staging", version="1.0"),
            say("1.0 is on staging."),
            Intent(goal="stage 1.0", task_type="deploy", remember=True),
            Extraction(
                memories=[
                    MemoryCandidate(
                        content="Ada stages 1.0 first", memory_type=MemoryType.fact, confidence=0.9
                    )
                ]
            ),
        ]
    )
    agent = DevOps(model=model, embedder="hash")
    try:
        turn = agent.session("ada").send("stage 1.0 please")
        assert [op.kind for op in turn.memory_ops] == ["write"]
    finally:
        agent.close()
    named = by_name(spans)
    everything = spans.get_finished_spans()
    [root] = named["invoke_agent devops"]
    assert root.parent is None and root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["framework.tool_calls"] == 1 and root.attributes["framework.outcome"] == "success"
    assert root.attributes["framework.user"] != "ada"  # by reference only

    [recall] = named["framework.recall"]
    assert under(recall, root)
    assert recall.attributes is not None and "framework.recall.top_scores" in recall.attributes

    [tool] = named["execute_tool deploy_to_staging"]
    step = parent_of(tool, list(everything))
    assert (
        step is not None and step.name == "framework.reason_act" and parent_of(step, list(everything)) is root
    )
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "deploy_to_staging"
    assert (
        tool.attributes["framework.gate.verdict"] == "allow" and tool.attributes["framework.tool.ok"] is True
    )

    chats = named["chat scripted"]  # two answer requests, the intent and the extraction
    assert len(chats) == 4
    assert all(c.attributes and c.attributes["gen_ai.request.model"] == "scripted" for c in chats)
    assert sorted(
        str(c.attributes.get("gen_ai.response.finish_reasons")) for c in chats if c.attributes
    ) == sorted(["('tool_calls',)", "('stop',)", "('tool_calls',)", "('tool_calls',)"])

    [work] = named["framework.memory_work"]
    assert under(work, root)  # the work after the answer, in the same trace
    assert work.context.trace_id == root.context.trace_id
    assert [e.name for e in work.events] == ["memory.write"]
    memory_calls = [c for c in chats if under(c, work)]
    assert [c.attributes.get("framework.response_model") for c in memory_calls if c.attributes] == [
        "Intent",
        "Extraction",
    ]


def test_no_conversation_or_memory_text_goes_into_a_span(
    home: Path, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def turn() -> None:
        model = ScriptedModel(
            [
                say("What a name."),
                Intent(goal="share", remember=True),
                Extraction(
                    memories=[
                        MemoryCandidate(content=SECRET_WORDS, memory_type=MemoryType.fact, confidence=0.9)
                    ]
                ),
            ]
        )
        agent = Assistant(model=model, embedder="hash")
        try:
            agent.session("ada").send(SECRET_WORDS)
        finally:
            agent.close()

    turn()
    assert spans.get_finished_spans() and "Whiskerbottom" not in _all_text(spans)
    spans.clear()
    monkeypatch.setenv("FRAMEWORK_TRACE_CONTENT", "1")  # asked for: the memory's words are there
    turn()
    assert "Whiskerbottom" in _all_text(spans)


def _all_text(exporter: InMemorySpanExporter) -> str:
    parts: list[Any] = []
    for span in exporter.get_finished_spans():
        parts += [span.name, dict(span.attributes or {})]
        parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    return repr(parts)


def test_an_llm_call_over_http_carries_tokens_and_finish_reason(
    home: Path, spans: InMemorySpanExporter
) -> None:
    with FakeLLMServer() as server:
        server.default = Reply.text_reply("Hello there.")
        model = LiteLLMModel("openai/fake", api_base=server.url, api_key="sk-fake", deadline_s=10)
        agent = Assistant(model=model, embedder="hash")
        try:
            agent.session(None).send("hello")  # anonymous "hello": the answer is the only call
        finally:
            agent.close()
    [chat] = by_name(spans)["chat openai/fake"]
    attributes = chat.attributes or {}
    assert (
        attributes["gen_ai.provider.name"] == "openai" and attributes["gen_ai.request.model"] == "openai/fake"
    )
    assert attributes["gen_ai.usage.input_tokens"] == 10 and attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["framework.first_token_ms"] <= attributes["framework.latency_ms"]


def test_the_query_rewrite_is_an_llm_call_before_the_recall(home: Path, spans: InMemorySpanExporter) -> None:
    from framework.llm.testing import Fill

    class Rewriting(Assistant):
        query_rewrite = True

    model = ScriptedModel(
        [
            Fill({"keywords": ["cat"], "answer_guess": "The user's cat is called Whiskerbottom"}),
            say("Noted."),
            Intent(goal="name the cat", task_type="chat"),
        ]
    )
    agent = Rewriting(model=model, embedder="hash")
    try:
        agent.session("ada").send("what is my cat called?")
    finally:
        agent.close()
    named = by_name(spans)
    [root] = named["invoke_agent assistant"]
    [recall] = named["framework.recall"]
    rewrite = [
        c
        for c in named["chat scripted"]
        if c.attributes and c.attributes.get("framework.response_model") == "SearchHints"
    ]
    assert len(rewrite) == 1 and under(rewrite[0], root) and under(recall, root)
    assert rewrite[0].end_time is not None and recall.start_time is not None
    assert rewrite[0].end_time <= recall.start_time  # asked first, through the turn's driver
    assert recall.attributes is not None and recall.attributes["framework.recall.rewrite_ms"] >= 0
    assert "framework.recall.rewrite_failed" not in recall.attributes  # None is left out
