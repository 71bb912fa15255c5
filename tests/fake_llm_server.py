"""The fake OpenAI-compatible server lives in the package (framework.bench.fake_llm): the latency
bench ships with it. Tests import it from here as before."""

from framework.bench.fake_llm import FakeLLMServer, RecordedRequest, Reply

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply"]
