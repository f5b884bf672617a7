"""A progress line on stderr for long CLI jobs (load, replay, schema check), so a big lake does not look hung.

One line, redrawn in place (`\\r`, the text, clear to the end of the line) at most once per `interval`:

    load: 120/3,000 files (4%), 1,234,567 rows, 40,512 rows/s, ETA 0:42
    re-checking bad rows: 8,200 rows, 5,310 rows/s  bad/schema_violations/date=2026-12-07/hour=05/part-3.jsonl

done/total and a percentage when the total is known, rows and rows/s (averaged since `start`), the
ETA that rate implies, and the file at hand, clipped to the terminal's width. `close` draws the
final state (elapsed time instead of the ETA) and a newline, so whatever the command prints next
starts on a clean line. It is drawn only when stderr is a terminal (and TERM is not `dumb`); it
never touches stdout, so pipes, log files and `--json` reports see none of it. The commands turn it
off with `--no-progress` and `--json` too. Counting is cheap (an addition and a clock read), so a
job may advance it once per row.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "format_duration", "on_terminal"]

_CLEAR_TO_END = "\x1b[K"
_FALLBACK_COLUMNS = 80
# C0 and C1 controls and DEL: a file name is data from the lake and must not drive the terminal.
_CONTROLS = {c: "?" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def on_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal that understands `\\r` and clear-to-end-of-line."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed, or a file-like without isatty
        return False
    return tty and os.environ.get("TERM") != "dumb"


def format_duration(seconds: float) -> str:
    """`0:42`, `12:05`, `1:02:03`: minutes and seconds, hours in front when there are any."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


class Progress:
    """One self-overwriting status line for a job of `total` `unit`s (files or rows), counting rows on the way.

    `advance(n, rows=r)` adds `n` units done and `r` rows (for a job counted in rows, `r` defaults to
    `n`); `advance(0, current=name)` names the file being worked on. Disabled, every call returns at
    once and nothing is written.
    """

    def __init__(
        self,
        label: str,
        *,
        unit: str = "rows",
        total: int | None = None,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 0.125,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = on_terminal(self.stream) if enabled is None else enabled
        self.interval = interval  # seconds between redraws: at most 1/interval lines a second
        self.clock = clock
        self.width = width  # None: the terminal's width, read at each redraw (it may be resized)
        self.done = 0
        self.rows = 0
        self.current: str | None = None
        self._started: float | None = None
        self._drawn_at = -math.inf

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, total: int | None = None) -> None:
        """Start counting towards `total` (the clock starts now) and draw the first line at once."""
        if not self.enabled:
            return
        if total is not None:
            self.total = total
        self.done = self.rows = 0
        self.current = None
        self._started = self.clock()
        self._draw(self.line(self._started), self._started)

    def advance(self, n: int = 1, *, rows: int | None = None, current: str | None = None) -> None:
        """Count `n` more units done (and `rows` more rows); redraw if the last line is `interval` old."""
        if not self.enabled:
            return
        if self._started is None:
            self.start()
        self.done += n
        self.rows += rows if rows is not None else (n if self.unit == "rows" else 0)
        if current is not None:
            self.current = current
        now = self.clock()
        if now - self._drawn_at >= self.interval:
            self._draw(self.line(now), now)

    def close(self) -> None:
        """Draw the final state with the elapsed time, then a newline; a second call does nothing."""
        if not self.enabled or self._started is None:
            return
        now = self.clock()
        self.current = None  # the job is over: no file is at hand
        self._draw(self.line(now, final=True), now, end="\n")
        self._started = None

    def line(self, now: float, *, final: bool = False) -> str:
        """The text of the line at time `now`, clipped to the terminal's width (without `\\r` or escapes)."""
        elapsed = now - (self._started if self._started is not None else now)
        if self.total is not None:
            percent = 100 if self.total <= 0 else min(100, self.done * 100 // self.total)
            parts = [f"{self.done:,}/{self.total:,} {self.unit} ({percent}%)"]
        else:
            parts = [f"{self.done:,} {self.unit}"]
        if self.unit != "rows":
            parts.append(f"{self.rows:,} rows")
        if elapsed > 0 and self.rows > 0:
            parts.append(f"{_rate(self.rows / elapsed)} rows/s")
        if final:
            parts.append(f"{format_duration(elapsed)} elapsed")
        elif self.total is not None and 0 < self.done < self.total and elapsed > 0:
            parts.append(f"ETA {format_duration((self.total - self.done) * elapsed / self.done)}")
        text = f"{self.label}: " + ", ".join(parts)
        return _fit(text, self.current, self._columns() - 1)  # the last column would wrap on some terminals

    def _columns(self) -> int:
        if self.width is not None:
            return self.width
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns or _FALLBACK_COLUMNS  # a fresh pseudo-terminal reports 0 columns

    def _draw(self, text: str, now: float, end: str = "") -> None:
        try:
            self.stream.write(f"\r{text}{_CLEAR_TO_END}{end}")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: the job matters more than its progress line
            self.enabled = False
        self._drawn_at = now


def _fit(text: str, current: str | None, room: int) -> str:
    """`text`, then as much of the end of `current` as fits in `room` characters (a path's tail names it)."""
    room = max(room, 1)
    if len(text) > room:
        return text[: max(room - 3, 0)] + "..."[:room]
    if not current:
        return text
    name = current.translate(_CONTROLS)
    space = room - len(text) - 2
    if space < 12:  # too little of a path to tell files apart
        return text
    if len(name) > space:
        name = "..." + name[-(space - 3) :]
    return f"{text}  {name}"
