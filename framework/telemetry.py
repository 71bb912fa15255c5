"""OpenTelemetry traces of what the runtime does: a span for the turn, its steps, each LLM call
(GenAI semantic conventions), each tool call with the gate's verdict and the policy versions that
decided it, each recall (counts, latency, top scores) and the turn's memory work (each operation).

Optional: install the `[otel]` extra and set a TracerProvider as OpenTelemetry says (an OTLP
exporter sends the spans to any backend). Without the package every call here is a no-op on a
shared null span. Nothing a user said or a memory holds goes into a span unless the
`FRAMEWORK_TRACE_CONTENT=1` environment variable asks for it; users appear by reference
(framework.log.user_ref), as in the log.

Spans are started with an explicit parent (`Span.child`), never through the "current span" of a
context variable: a turn is a generator that yields between its steps, and a context variable set
in one step would leak into the caller's code between yields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

try:  # the API alone: without an SDK and a provider it records nothing, cheaply
    from opentelemetry import trace as _trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # pragma: no cover - the extra is not installed
    _trace = None  # type: ignore[assignment]

Attributes = Mapping[str, Any]


def enabled() -> bool:
    """Whether OpenTelemetry is installed (spans go to whatever provider the application set)."""
    return _trace is not None


def content_traced() -> bool:
    """Whether spans may carry conversation and memory text (off unless asked for)."""
    return os.environ.get("FRAMEWORK_TRACE_CONTENT") == "1"


class Span:
    """One span, or nothing (`NULL`) when OpenTelemetry is not installed."""

    __slots__ = ("_span",)

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def child(self, name: str, attributes: Attributes | None = None, kind: str = "internal") -> Span:
        """A new span under this one (a root when this is NULL and tracing is on)."""
        if _trace is None:
            return NULL
        context = _trace.set_span_in_context(self._span) if self._span is not None else None
        span_kind = _trace.SpanKind.CLIENT if kind == "client" else _trace.SpanKind.INTERNAL
        tracer = _trace.get_tracer("framework")
        return Span(tracer.start_span(name, context=context, kind=span_kind, attributes=_clean(attributes)))

    def set(self, key: str, value: Any) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)

    def update(self, attributes: Attributes) -> None:
        if self._span is not None:
            self._span.set_attributes(_clean(attributes))

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        if self._span is not None:
            self._span.add_event(name, _clean(attributes))

    def fail(self, error: BaseException | str) -> None:
        if self._span is not None:
            self._span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            if isinstance(error, BaseException):
                self._span.record_exception(error)
            kind = type(error).__name__ if isinstance(error, BaseException) else "error"
            self._span.set_attribute("error.type", kind)

    def end(self) -> None:
        if self._span is not None:
            self._span.end()


NULL = Span()


def root(name: str, attributes: Attributes | None = None) -> Span:
    """A span with no parent of ours (the application's current span, if any, is its parent)."""
    if _trace is None:
        return NULL
    tracer = _trace.get_tracer("framework")
    return Span(tracer.start_span(name, attributes=_clean(attributes)))


def _clean(attributes: Attributes | None) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int, float and sequences of them; None is left out."""
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, bool, int, float)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out
