"""Logs and metrics every stage shares: structlog set up once, and one Prometheus registry.

Logging: `configure_logging()` once per process (every command does it through
`configure_logging_from(settings)`, so `log_level` / `log_json` and `EVENTKIT_LOG_LEVEL` /
`EVENTKIT_LOG_JSON` apply everywhere), then `get_logger(__name__)`.
Lines are JSON when stderr is not a terminal (containers, CI) and coloured console text when it
is. Ids bound with `structlog.contextvars.bind_contextvars(request_id=...)` appear on every line
logged in that context. Records from the standard `logging` module (uvicorn, Google clients) go
through the same renderer.

A log that cannot be written (a full disk, a closed pipe) never fails or blocks the code that logs:
the line is dropped and counted (`eventkit_log_lines_dropped_total`), and the next line that can be
written is preceded by one saying how many were lost. Logging is called from request paths and
from callbacks that settle them; a log write raising there once left requests unanswered forever.

Metrics: stages create metrics with `counter()`, `histogram()`, `gauge()`; all land in `REGISTRY`,
and a `/metrics` endpoint answers with `render_metrics()`. Creating a metric twice returns the
first one (stages may be imported twice in tests); the same name with another type or other
labels is a programming error (ValueError). Name metrics `eventkit_<stage>_<what>[_unit]`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from structlog.typing import FilteringBoundLogger, Processor

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = [
    "REGISTRY",
    "configure_logging",
    "configure_logging_from",
    "counter",
    "gauge",
    "get_logger",
    "histogram",
    "log_lines_dropped",
    "render_metrics",
]

REGISTRY = CollectorRegistry()

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _json_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(level: str = "info", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to `stream` (default stderr) at `level`.

    `json=None` picks JSON unless the stream is a terminal. Safe to call again (reconfigures).
    """
    numeric = _LEVELS.get(level.lower())
    if numeric is None:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    out = stream if stream is not None else sys.stderr
    as_json = (not _is_terminal(out)) if json is None else json
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if as_json:
        shared.append(structlog.processors.dict_tracebacks)
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_is_terminal(out))
    structlog.configure(
        processors=[structlog.stdlib.add_logger_name, *shared, structlog.processors.StackInfoRenderer(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_NamedPrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through `logging`: give them the same format and destination.
    handler = _TolerantStreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_eventkit", False)]:
        root.removeHandler(old)
    handler._eventkit = True  # type: ignore[attr-defined]  # marks our handler so reconfiguring replaces it
    root.addHandler(handler)
    root.setLevel(numeric)
    # uvicorn installs its own handlers and stops propagation when it starts a server; hand its
    # loggers back to the root so every line has one format, whatever ran first in the process.
    for name in _SELF_CONFIGURING_LOGGERS:
        lib_logger = logging.getLogger(name)
        lib_logger.handlers.clear()
        lib_logger.propagate = True


_SELF_CONFIGURING_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging_from(settings: Settings, *, quiet: bool = False, stream: TextIO | None = None) -> str:
    """configure_logging() as the settings say (`log_level`, `log_json`); returns the level used.

    `quiet` is for commands that print their own summary (load, bad, replay): they log warnings and
    errors only, unless `log_level` is set explicitly (eventkit.toml or EVENTKIT_LOG_LEVEL).
    """
    level = settings.log_level
    if quiet and "log_level" not in settings.model_fields_set:
        level = "warning"
    configure_logging(level, settings.log_json, stream)
    return level


def get_logger(name: str) -> FilteringBoundLogger:
    """A structlog logger whose lines carry `logger=name`."""
    # Lazy: a module-level logger created before configure_logging() still follows it.
    return cast(FilteringBoundLogger, structlog.get_logger(name))


class _DroppedLines:
    """How many log lines could not be written, in total and since the last line that could."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.unreported = 0
        self.reason = ""
        self.cut = False  # a line was partly written: what follows starts on a new line


_DROPPED = _DroppedLines()


def log_lines_dropped() -> int:
    """Log lines lost since the process started because the log could not be written."""
    return _DROPPED.total


def _write_line(file: TextIO, line: str) -> None:
    """Write one line; on failure count it as dropped instead of raising (see the module notes).

    A stream with a file descriptor is written with os.write, unbuffered: a failed write then drops exactly
    that line, where a buffered stream would keep it and raise again on every later flush (and at exit)."""
    with _DROPPED.lock:
        try:
            if _DROPPED.unreported:
                _emit(
                    file,
                    ("\n" if _DROPPED.cut else "") + f"eventkit: {_DROPPED.unreported} log line(s) dropped: "
                    f"the log could not be written ({_DROPPED.reason})\n",
                )
                _DROPPED.unreported = 0
                _DROPPED.cut = False
            _emit(file, line)
        except (OSError, ValueError) as e:  # ValueError: the stream was closed
            _DROPPED.total += 1
            _DROPPED.unreported += 1
            _DROPPED.reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            _LOG_LINES_DROPPED.inc()


def _emit(file: TextIO, text: str) -> None:
    try:
        fd = file.fileno()
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests) or a wrapper without a descriptor
        file.write(text)
        file.flush()
        return
    try:
        file.flush()  # what others wrote through the same stream goes first
    except OSError:
        pass
    data = text.encode("utf-8", errors="replace")
    whole = len(data)
    while data:
        try:
            written = os.write(fd, data)
        except OSError:
            _DROPPED.cut = _DROPPED.cut or len(data) < whole
            raise
        data = data[written:]


class _NamedPrintLogger(structlog.PrintLogger):
    """A PrintLogger that knows its name, so `add_logger_name` can put it on each line, and never raises."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name
        self._out = file

    def msg(self, message: str) -> None:
        _write_line(self._out, message + "\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _TolerantStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib handler writing through `_write_line`, so a full disk drops the line instead of raising."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record: the stdlib's own report (handleError) is what logging users expect
            self.handleError(record)
            return
        _write_line(self.stream, text + self.terminator)


class _NamedPrintLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(self._file, str(args[0]) if args else "")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


_M = TypeVar("_M", Counter, Gauge, Histogram)
_METRICS: dict[str, Counter | Gauge | Histogram] = {}
_METRICS_LOCK = threading.Lock()


def _metric(kind: type[_M], name: str, doc: str, labels: Sequence[str], **options: Any) -> _M:
    with _METRICS_LOCK:
        existing = _METRICS.get(name)
        if existing is not None:
            if type(existing) is not kind or tuple(existing._labelnames) != tuple(labels):
                raise ValueError(
                    f"metric {name!r} is already registered as {type(existing).__name__}"
                    f"{list(existing._labelnames)}, not {kind.__name__}{list(labels)}"
                )
            return existing
        metric = kind(name, doc, labelnames=tuple(labels), registry=REGISTRY, **options)
        _METRICS[name] = metric
        return metric


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
    """The shared counter called `name` (created on first use)."""
    return _metric(Counter, name, doc, labels)


def histogram(
    name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS
) -> Histogram:
    """The shared histogram called `name` (created on first use; `buckets` only matter then)."""
    return _metric(Histogram, name, doc, labels, buckets=tuple(buckets))


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    """The shared gauge called `name` (created on first use)."""
    return _metric(Gauge, name, doc, labels)


def render_metrics() -> tuple[bytes, str]:
    """The registry in Prometheus text format and its content type, for a `/metrics` response."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_LOG_LINES_DROPPED = counter(
    "eventkit_log_lines_dropped_total", "Log lines lost because the log could not be written (e.g. a full disk)"
)
