"""Telemetry: JSON logs off a terminal, console logs on one, context ids on every line, one shared metrics registry."""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog
from prometheus_client import Counter

from core.telemetry import REGISTRY, configure_logging, counter, gauge, get_logger, histogram, render_metrics


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test leaves structlog, the context variables and the root logger as it found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_when_not_a_terminal_with_context_ids() -> None:
    """Off a terminal each record is one JSON object carrying the event, level, logger, time and bound ids."""
    out = io.StringIO()
    configure_logging(stream=out)
    structlog.contextvars.bind_contextvars(request_id="req-1")
    get_logger("collector.http").info("stored", bytes=42)
    [line] = _lines(out)
    assert line["event"] == "stored" and line["bytes"] == 42 and line["level"] == "info"
    assert line["logger"] == "collector.http" and line["request_id"] == "req-1"
    assert str(line["timestamp"]).endswith("Z")


def test_loggers_made_before_configuration_follow_it() -> None:
    """A module-level logger created before configure_logging() writes with the configuration made later."""
    early = get_logger("made.early")
    out = io.StringIO()
    configure_logging(stream=out)
    early.info("after")
    [line] = _lines(out)
    assert (line["event"], line["logger"]) == ("after", "made.early")


def test_level_filters_records() -> None:
    """Records below the configured level are dropped; at and above it they are written."""
    out = io.StringIO()
    configure_logging(level="warning", stream=out)
    log = get_logger("x")
    log.info("hidden")
    log.warning("shown")
    log.error("also shown")
    assert [line["event"] for line in _lines(out)] == ["shown", "also shown"]
    with pytest.raises(ValueError, match="log level"):
        configure_logging(level="loud", stream=out)


def test_console_text_on_a_real_terminal() -> None:
    """On a terminal (a real pseudo-terminal here) records are human-readable text, not JSON."""
    leader, follower = os.openpty()
    with os.fdopen(follower, "w", buffering=1) as tty:
        configure_logging(stream=tty)
        structlog.contextvars.bind_contextvars(request_id="req-2")
        get_logger("enrich").info("file closed", events=10)
    text = os.read(leader, 65536).decode()
    os.close(leader)
    assert "file closed" in text and "req-2" in text and "events" in text
    assert not text.lstrip().startswith("{")


def test_exceptions_are_structured_in_json() -> None:
    """An exception logged with `exception()` is rendered as structured data inside the JSON line."""
    out = io.StringIO()
    configure_logging(stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("x").exception("failed")
    [line] = _lines(out)
    assert "boom" in orjson.dumps(line["exception"]).decode()


def test_standard_library_logging_uses_the_same_format() -> None:
    """Records from `logging` (uvicorn, Google clients) come out as the same JSON with their logger name."""
    out = io.StringIO()
    configure_logging(stream=out)
    configure_logging(stream=out)  # reconfiguring must not duplicate the handler
    structlog.contextvars.bind_contextvars(request_id="req-3")
    logging.getLogger("uvicorn.error").warning("listening on %s", "127.0.0.1:1")
    [line] = _lines(out)
    assert line["event"] == "listening on 127.0.0.1:1" and line["logger"] == "uvicorn.error"
    assert line["level"] == "warning" and line["request_id"] == "req-3"


def test_metric_constructors_are_idempotent_and_share_one_registry() -> None:
    """Asking twice for a metric gives the same object, and its samples appear in render_metrics()."""
    name = f"eventkit_test_{uuid.uuid4().hex[:8]}"
    first = counter(f"{name}_events_total", "events seen", ["outcome"])
    again = counter(f"{name}_events_total", "events seen", ["outcome"])
    assert first is again and isinstance(first, Counter)
    first.labels(outcome="good").inc(3)
    histogram(f"{name}_seconds", "latency", buckets=[0.1, 1]).observe(0.5)
    gauge(f"{name}_depth", "queue depth").set(7)
    assert REGISTRY.get_sample_value(f"{name}_events_total", {"outcome": "good"}) == 3
    payload, content_type = render_metrics()
    text = payload.decode()
    assert f'{name}_events_total{{outcome="good"}} 3.0' in text
    assert f'{name}_seconds_bucket{{le="1.0"}} 1.0' in text
    assert f"{name}_depth 7.0" in text
    assert content_type.startswith("text/plain")


def test_same_name_with_another_shape_is_refused() -> None:
    """Reusing a metric name with another type or other labels is a ValueError, not a silent second metric."""
    name = f"eventkit_test_{uuid.uuid4().hex[:8]}_total"
    counter(name, "x", ["a"])
    with pytest.raises(ValueError, match="already registered"):
        gauge(name, "x", ["a"])
    with pytest.raises(ValueError, match="already registered"):
        counter(name, "x", ["b"])


def test_a_log_that_cannot_be_written_drops_lines_instead_of_raising() -> None:
    """Writing to a full device (/dev/full: every write fails with ENOSPC) neither raises nor blocks, through
    structlog or the stdlib; the lines are counted, and the next writable line is preceded by how many were lost."""
    from core.telemetry import log_lines_dropped

    before = log_lines_dropped()
    with Path("/dev/full").open("w") as full:
        configure_logging(stream=full)
        get_logger("collector.durability").warning("queue_unavailable", records=1)
        logging.getLogger("uvicorn.error").error("Exception in callback")
        assert log_lines_dropped() == before + 2
    out = io.StringIO()
    configure_logging(stream=out)
    get_logger("collector.durability").info("queue_recovered")
    first, second = out.getvalue().splitlines()
    assert first.startswith("eventkit: 2 log line(s) dropped: the log could not be written (No space left on device)")
    assert orjson.loads(second)["event"] == "queue_recovered"
