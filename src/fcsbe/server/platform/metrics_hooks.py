"""Hooks through which services and workers report measurements without knowing the exporter.

Services call `record_decision(...)` here; they must not import FastAPI or prometheus_client.
The receiving sink is bound per task (one request, one worker loop) by the app that owns the
metrics, so tests that build many apps never mix their figures. With no sink bound, recording
does nothing, which is what a service called from a test or a command-line tool wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

__all__ = ["MetricsSink", "bind", "record_decision", "reporting_to", "unbind"]


class MetricsSink(Protocol):
    """What an app's metrics accept from the layers below the API."""

    def decision_made(self, fs_type: str, result: str, latency_s: float) -> None:
        """An FS was decided `latency_s` after it was received."""


_sink: ContextVar[MetricsSink | None] = ContextVar("fcsbe_metrics_sink", default=None)


def bind(sink: MetricsSink | None) -> Token[MetricsSink | None]:
    """Send this task's measurements to `sink` (until `unbind` with the returned token)."""
    return _sink.set(sink)


def unbind(token: Token[MetricsSink | None]) -> None:
    """Undo a `bind` made in the same task."""
    _sink.reset(token)


@contextmanager
def reporting_to(sink: MetricsSink | None) -> Iterator[None]:
    """Bind `sink` for the duration of a block (tests, one-off steps)."""
    token = bind(sink)
    try:
        yield
    finally:
        unbind(token)


def record_decision(fs_type: str, result: str, latency_s: float) -> None:
    """Report one FS decision and the time from RECEIVED to decided."""
    sink = _sink.get()
    if sink is not None:
        sink.decision_made(fs_type, result, max(0.0, latency_s))
