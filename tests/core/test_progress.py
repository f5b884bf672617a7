"""The progress line: rate-limited redraws, its arithmetic, width clipping, its final newline, and silence off a TTY."""

from __future__ import annotations

import io
import os
import pty

import pytest

from core.progress import Progress, format_duration, on_terminal


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _progress(clock: Clock, **kwargs: object) -> tuple[Progress, io.StringIO]:
    stream = io.StringIO()
    progress = Progress("load", stream=stream, enabled=True, clock=clock, width=200, **kwargs)  # type: ignore[arg-type]
    return progress, stream


def _lines(stream: io.StringIO) -> list[str]:
    """Each redraw, as the terminal shows it (between `\\r` and clear-to-end-of-line)."""
    return [chunk.split("\x1b[K")[0] for chunk in stream.getvalue().split("\r")[1:]]


def test_redraws_at_most_once_per_interval() -> None:
    """A thousand advances within one interval draw nothing new; the first advance after it draws once."""
    clock = Clock()
    progress, stream = _progress(clock, total=10_000, interval=0.1)
    progress.start()
    for _ in range(1000):
        clock.now += 0.00005  # 0.05 s in all: still inside the interval
        progress.advance()
    assert len(_lines(stream)) == 1  # only start's line
    clock.now += 0.06
    progress.advance()
    progress.advance()
    assert len(_lines(stream)) == 2
    assert _lines(stream)[-1].startswith("load: 1,001/10,000 rows (10%)")


def test_rate_and_eta_are_averaged_since_start() -> None:
    """250 of 1,000 files and 50,000 rows in 10 s: 5,000 rows/s, and the other 750 files take 30 s more."""
    clock = Clock()
    progress, stream = _progress(clock, unit="files", total=1000, interval=0)
    progress.start()
    clock.now += 10
    progress.advance(250, rows=50_000)
    assert _lines(stream)[-1] == "load: 250/1,000 files (25%), 50,000 rows, 5,000 rows/s, ETA 0:30"


def test_without_a_total_there_is_no_eta_and_slow_rates_keep_a_decimal() -> None:
    """An open-ended job shows its count and rate only; under 100 rows/s the rate keeps one decimal."""
    clock = Clock()
    progress, stream = _progress(clock, interval=0)
    progress.start()
    clock.now += 4
    progress.advance(10)
    assert _lines(stream)[-1] == "load: 10 rows, 2.5 rows/s"


def test_format_duration() -> None:
    """Minutes and seconds, hours only when there are some; never negative."""
    assert format_duration(42.4) == "0:42"
    assert format_duration(725) == "12:05"
    assert format_duration(3723) == "1:02:03"
    assert format_duration(-5) == "0:00"


def test_close_draws_the_final_state_and_a_newline_once() -> None:
    """The last line says what was done and how long it took, and ends the line so later output starts clean."""
    clock = Clock()
    progress, stream = _progress(clock, unit="files", total=4, interval=10)
    with progress:
        progress.start()
        clock.now += 2
        progress.advance(4, rows=3000, current="good/part-0.parquet")  # inside the interval: not drawn
    progress.close()  # already closed: nothing more
    assert stream.getvalue().endswith("\r" + "load: 4/4 files (100%), 3,000 rows, 1,500 rows/s, 0:02 elapsed\x1b[K\n")
    assert stream.getvalue().count("\n") == 1


def test_a_long_line_is_clipped_to_the_terminal_keeping_the_file_names_tail() -> None:
    """The file at hand is shown by its end (partition and part); the whole line stays under the width."""
    clock = Clock()
    stream = io.StringIO()
    name = "bad/schema_violations/date=2026-12-07/hour=05/part-00017.jsonl"
    progress = Progress("replay", stream=stream, enabled=True, clock=clock, width=60, interval=0)
    progress.start()
    clock.now += 1
    progress.advance(5, current=name)
    line = _lines(stream)[-1]
    assert len(line) == 59
    assert line.startswith("replay: 5 rows, 5.0 rows/s  ...") and line.endswith("hour=05/part-00017.jsonl")
    narrow = Progress("replay", stream=io.StringIO(), enabled=True, clock=clock, width=12)
    narrow.start()
    assert narrow.line(clock.now) == "replay: ..."


def test_control_characters_in_a_file_name_do_not_reach_the_terminal() -> None:
    """A lake file named with escape sequences or newlines is shown with `?` in their place."""
    clock = Clock()
    progress, stream = _progress(clock, interval=0)
    progress.start()
    progress.advance(1, current="good/\x1b]0;pwned\x07evil\nname\x9b.parquet")
    assert _lines(stream)[-1].endswith("good/?]0;pwned?evil?name?.parquet")
    assert "\x1b]" not in stream.getvalue() and "\x07" not in stream.getvalue()


def test_nothing_is_written_when_disabled() -> None:
    """Off (not a terminal, --json, --no-progress), start, advance and close write not a byte."""
    stream = io.StringIO()
    progress = Progress("load", stream=stream, enabled=False, interval=0)
    with progress:
        progress.start(10)
        progress.advance(10, current="x")
    assert stream.getvalue() == ""


def test_it_is_on_only_for_a_terminal_that_is_not_dumb(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe or a file is not a terminal; a pseudo-terminal is, unless TERM=dumb says it cannot redraw."""
    monkeypatch.setenv("TERM", "xterm")
    assert not on_terminal(io.StringIO())
    assert not Progress("x", stream=io.StringIO()).enabled
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            assert on_terminal(tty) and Progress("x", stream=tty).enabled
            monkeypatch.setenv("TERM", "dumb")
            assert not on_terminal(tty)
    finally:
        os.close(master)
        os.close(slave)


def test_a_stream_that_fails_turns_the_line_off_instead_of_failing_the_job() -> None:
    """Writing to a closed stderr disables the line; the job's own calls keep working."""
    stream = io.StringIO()
    stream.close()
    progress = Progress("load", stream=stream, enabled=True, interval=0)
    progress.start(3)
    progress.advance(3)
    progress.close()
    assert not progress.enabled
