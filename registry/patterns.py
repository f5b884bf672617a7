"""Match JSON Schema `pattern`/`patternProperties` regexes in bounded time, with jsonschema's (Python `re`) meaning.

A backtracking engine takes exponential time on patterns such as `^(a+)+$` against a near miss,
holding the GIL all along; one event stalled a whole pipeline that way. So every schema pattern
is matched by a `PatternMatcher`:

* **RE2** (linear time, never backtracks) whenever the pattern can be written in RE2 syntax with
  exactly Python's meaning. The pattern is translated from Python's own parse of it, so the
  semantics are jsonschema's: search (not full match); `$` matches at the end or before a final
  newline (written `\\n?\\z`, which is exact where `$` ends the pattern, the only place it is used
  so); `\\d`, `\\w`, `\\s` are Python's Unicode classes, spelled out as code-point ranges taken
  from Python's own `re` (RE2's are ASCII); `.` excludes only `\\n`; lazy repeats match the same
  strings as greedy ones; optional repeats at an unanchored end are dropped (a search finds
  `x{0,n}y` wherever it finds `y`), which keeps `(a{0,99}){0,99}$` within RE2's repeat limits.
* **`regex`** (PyPI, the `re`-compatible VERSION0 syntax) with a per-match timeout for what RE2
  cannot express exactly: lookarounds, backreferences, `\\b`, atomic groups and possessive
  repeats, inline flags, `$` before more pattern, counted repeats beyond RE2's limits (1000, also
  for nested counts multiplied), and text holding lone surrogates (RE2 reads UTF-8).

The timeout is the smaller of `MATCH_TIMEOUT_S` and what is left of the current event's budget
(`validation_budget`); running out raises `PatternTimeout`, which the validator reports as a
failure of the instance, never as a stall. Budgets and caps count the CPU time of the validating
thread (`time.thread_time`), not wall time: on a loaded machine a valid event may wait for a core
or the GIL for longer than its budget, and waiting must not turn it into a bad row. `regex` only
knows wall-clock timeouts, so a match that timed out having used under half of its timeout in CPU
was starved, not slow, and is run again (up to `_STARVED_RETRIES` times). Garbage collection is
not charged either: a full collection of a large heap takes hundreds of milliseconds of the
thread that happened to allocate, whatever event that was (`_pause_for_collection`).
tests/registry/test_patterns.py holds the matcher to `re.search` over generated patterns and
strings and lists the known differences.
"""

from __future__ import annotations

import array
import contextvars
import functools
import gc
import importlib
import re
import time
from typing import Any, Final

import re2  # type: ignore[import-untyped]  # no stubs published
import regex  # type: ignore[import-untyped]  # types-regex not needed for two calls

__all__ = [
    "MATCH_TIMEOUT_S",
    "BudgetExceeded",
    "PatternMatcher",
    "PatternTimeout",
    "budget_paused",
    "check_budget",
    "matcher",
    "re2_translation",
    "validation_budget",
]

# Python's regex parser (no public name): its tree is what gets translated.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MATCH_TIMEOUT_S: Final = 0.2  # a `regex` match outside any event budget (lint, replay, the API) stops here
_STARVED_RETRIES: Final = 3  # a starved match is run again at most this often (so at most 4x its timeout of wall time)
_RE2_MAX_REPEAT: Final = 1000  # RE2 refuses larger counted repeats
_RE2_MAX_MEM: Final = 64 << 20  # room for large counted repeats and Unicode classes (RE2's default is 8 MiB)
_MAX_CODEPOINT: Final = 0x10FFFF


class PatternTimeout(Exception):
    """A pattern match ran out of time (its own cap or the event's budget)."""


class BudgetExceeded(PatternTimeout):
    """The current event's validation budget is spent."""


class _Budget:
    __slots__ = ("collecting_since", "deadline", "ran_out", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds  # CPU time of this thread: waiting for a core is not charged
        self.collecting_since = 0.0
        self.ran_out = False  # some verdict inside the block was cut short by this budget


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("eventkit_validation_budget", default=None)


class validation_budget:  # lower case: used as contextlib's context managers are
    """Bound the validation done inside the `with` block to `seconds` of the thread's CPU time (None or <= 0: none).

    A class rather than a generator context manager: it is entered once per event on the hot path.
    After the block, `ran_out` tells whether some verdict inside it was cut short by the budget.
    """

    __slots__ = ("_budget", "_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: contextvars.Token[_Budget | None] | None = None
        self._budget: _Budget | None = None

    def __enter__(self) -> None:
        if self._seconds is not None and self._seconds > 0:
            self._budget = _Budget(self._seconds)
            self._token = _budget.set(self._budget)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _budget.reset(self._token)
            self._token = None

    @property
    def ran_out(self) -> bool:
        return self._budget is not None and self._budget.ran_out


class budget_paused:  # lower case: used as contextlib's context managers are
    """Time spent inside the `with` block (compiling a schema, running the enrichments) is not charged to the event."""

    __slots__ = ("_budget", "_started")

    def __enter__(self) -> None:
        self._budget = _budget.get()
        self._started = time.thread_time() if self._budget is not None else 0.0

    def __exit__(self, *exc: object) -> None:
        if self._budget is not None:
            self._budget.deadline += time.thread_time() - self._started


def _pause_for_collection(phase: str, info: dict[str, int]) -> None:
    """gc callback: a collection runs in the thread that allocated, and its time is not that event's to pay."""
    budget = _budget.get()
    if budget is None:
        return
    if phase == "start":
        budget.collecting_since = time.thread_time()
    else:
        budget.deadline += time.thread_time() - budget.collecting_since


gc.callbacks.append(_pause_for_collection)


def _exceeded(budget: _Budget) -> BudgetExceeded:
    budget.ran_out = True
    return BudgetExceeded(f"validation exceeded the event's time budget of {budget.seconds * 1000:.0f} ms")


def check_budget() -> None:
    """Raise BudgetExceeded when the current event's budget is spent (no-op outside a budget)."""
    budget = _budget.get()
    if budget is not None and time.thread_time() >= budget.deadline:
        raise _exceeded(budget)


def _timeout() -> tuple[float, bool]:
    """One match's timeout, and whether it is what is left of the event's budget (rather than the match's cap)."""
    budget = _budget.get()
    if budget is None:
        return MATCH_TIMEOUT_S, False
    remaining = budget.deadline - time.thread_time()
    if remaining <= 0:
        raise _exceeded(budget)
    return (remaining, True) if remaining < MATCH_TIMEOUT_S else (MATCH_TIMEOUT_S, False)


class PatternMatcher:
    """`search(text)` is True when `pattern` matches somewhere in `text`, as `re.search` decides, in bounded time."""

    __slots__ = ("_fallback", "_re2", "engine", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._fallback: Any = None
        self._re2: Any = None
        translated = re2_translation(pattern)
        if translated is not None:
            options = re2.Options()
            options.never_capture = True
            options.max_mem = _RE2_MAX_MEM
            options.log_errors = False
            # The binding's public search() decodes match offsets back to str positions (~10 µs);
            # a yes/no needs only the raw RE2 object (~1 µs).
            compiled = re2._re2.RE2(translated.encode("utf-8"), options)
            if compiled.ok():
                self._re2 = compiled
        self.engine = "re2" if self._re2 is not None else "regex"

    def search(self, text: str) -> bool:
        if self._re2 is not None:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
                return self._timed_search(text)
            spans = self._re2.Match(_UNANCHORED, data, 0, len(data))
            return bool(spans[0][0] >= 0)
        return self._timed_search(text)

    def _timed_search(self, text: str) -> bool:
        if self._fallback is None:
            self._fallback = regex.compile(self.pattern, regex.VERSION0)
        for attempt in range(_STARVED_RETRIES + 1):
            timeout, rest_of_budget = _timeout()
            started = time.thread_time()
            try:
                return self._fallback.search(text, timeout=timeout, concurrent=True) is not None
            except TimeoutError as e:
                starved = time.thread_time() - started < timeout / 2
                if starved and attempt < _STARVED_RETRIES:
                    continue
                budget = _budget.get()
                # The match ran out of what was left of the budget (its wall-clock timeout fires a hair before
                # the thread's CPU clock reaches the deadline): that is the event's budget, spent.
                if budget is not None and (rest_of_budget or time.thread_time() >= budget.deadline):
                    raise _exceeded(budget) from e
                raise PatternTimeout(f"matching {self.pattern!r} took longer than {timeout * 1000:.0f} ms") from e
        raise AssertionError("unreachable: the last attempt returns or raises")

    def __repr__(self) -> str:
        return f"PatternMatcher({self.pattern!r}, engine={self.engine!r})"


_UNANCHORED: Final = re2._re2.RE2.Anchor.UNANCHORED


@functools.lru_cache(maxsize=4096)
def matcher(pattern: str) -> PatternMatcher:
    """The shared matcher for `pattern` (a Python `re` pattern; re.error when it does not compile).

    Building one (once per pattern and process) is not charged to the event that first needs it.
    """
    with budget_paused():
        re.compile(pattern)
        return PatternMatcher(pattern)


# -- translation to RE2 -------------------------------------------------------------------------


class _Inexpressible(Exception):
    """The construct has no exact RE2 equivalent."""


def re2_translation(pattern: str) -> str | None:
    """RE2 syntax with exactly `re.search(pattern, …)`'s meaning on str, or None when there is none."""
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    if parsed.state.flags & ~(_c.SRE_FLAG_UNICODE | _c.SRE_FLAG_VERBOSE):
        return None  # (?i), (?s), (?m), (?a): Python's case folding and classes differ from RE2's
    try:
        return _sequence(_search_core(list(parsed)), tail=True)
    except (_Inexpressible, RecursionError):
        return None


def _search_core(items: list[Any]) -> list[Any]:
    """Drop optional repeats at the unanchored ends: a search finds `x{0,n}y` exactly where it finds `y`.

    This is what lets RE2 take `(a{0,99}){0,99}$`, whose nested counts (9,801) exceed RE2's limit.
    """
    while items and items[0][0] in (_c.MAX_REPEAT, _c.MIN_REPEAT) and items[0][1][0] == 0:
        items = items[1:]
    while items and items[-1][0] in (_c.MAX_REPEAT, _c.MIN_REPEAT) and items[-1][1][0] == 0:
        items = items[:-1]
    return items


def _sequence(items: list[Any], *, tail: bool) -> str:
    last = len(items) - 1
    return "".join(_node(op, av, tail=tail and i == last) for i, (op, av) in enumerate(items))


def _node(op: Any, av: Any, *, tail: bool) -> str:
    if op is _c.LITERAL:
        return _literal(av)
    if op is _c.NOT_LITERAL:
        return _ranges(_complement([(av, av)]))
    if op is _c.ANY:
        return _ranges(_complement([(10, 10)]))
    if op is _c.IN:
        return _ranges(_set_ranges(list(av)))
    if op is _c.BRANCH:
        return "(?:" + "|".join(_sequence(list(b), tail=tail) for b in av[1]) + ")"
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, body = av
        if add_flags or del_flags:
            raise _Inexpressible("scoped flags")
        return "(?:" + _sequence(list(body), tail=tail) + ")"
    if op is _c.MAX_REPEAT or op is _c.MIN_REPEAT:  # laziness does not change whether a match exists
        lo, hi, body = av
        if lo > _RE2_MAX_REPEAT or (hi != _c.MAXREPEAT and hi > _RE2_MAX_REPEAT):
            raise _Inexpressible("counted repeat above RE2's limit")
        upper = "" if hi == _c.MAXREPEAT else str(hi)
        count = f"{{{lo}}}" if upper == str(lo) else f"{{{lo},{upper}}}"
        return "(?:" + _sequence(list(body), tail=False) + ")" + count
    if op is _c.AT:
        return _at(av, tail=tail)
    if op is _c.CATEGORY:
        return _ranges(_category(av))
    if op is _c.ASSERT and tail and _is_python_dollar(av):
        return r"(?:\n?\z)"  # schema_compiler.python_dollar's spelling of `$`
    raise _Inexpressible(str(op))  # lookarounds, backreferences, atomic groups, possessive repeats


_DOLLAR_BODY: Final = repr(_parser.parse(r"\n?\Z"))  # parse trees compare by identity; their reprs by shape


def _is_python_dollar(av: Any) -> bool:
    direction, body = av
    return bool(direction == 1 and repr(body) == _DOLLAR_BODY)


def _at(code: Any, *, tail: bool) -> str:
    if code is _c.AT_BEGINNING or code is _c.AT_BEGINNING_STRING:
        return r"\A"
    if code is _c.AT_END_STRING:
        return r"\z"
    if code is _c.AT_END and tail:
        # `$` also matches before a final newline; where nothing follows it, consuming that newline
        # is the same as asserting it.
        return r"(?:\n?\z)"
    raise _Inexpressible(str(code))  # `$` before more pattern, \b, \B (RE2's are ASCII-only)


def _literal(code: int) -> str:
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    return f"\\x{{{code:X}}}"


def _ranges(ranges: list[tuple[int, int]]) -> str:
    if not ranges:
        return r"[^\x{0}-\x{10FFFF}]"  # matches nothing, as Python's empty classes do
    parts = [f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


def _set_ranges(items: list[Any]) -> list[tuple[int, int]]:
    negate = bool(items) and items[0][0] is _c.NEGATE
    ranges: list[tuple[int, int]] = []
    for op, av in items[1:] if negate else items:
        if op is _c.LITERAL:
            ranges.append((av, av))
        elif op is _c.RANGE:
            ranges.append((av[0], av[1]))
        elif op is _c.CATEGORY:
            ranges.extend(_category(av))
        else:
            raise _Inexpressible(str(op))
    merged = _merge(ranges)
    return _complement(merged) if negate else merged


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in _merge(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX_CODEPOINT:
        out.append((start, _MAX_CODEPOINT))
    return out


_POSITIVE: Final = {"DIGIT": r"\d", "SPACE": r"\s", "WORD": r"\w"}


def _category(code: Any) -> list[tuple[int, int]]:
    name = str(code).removeprefix("CATEGORY_")
    if name in _POSITIVE:
        return _python_class(_POSITIVE[name])
    if name.startswith("NOT_") and name[4:] in _POSITIVE:
        return _complement(_python_class(_POSITIVE[name[4:]]))
    raise _Inexpressible(str(code))  # line-break categories exist only in re's internals


@functools.cache
def _python_class(escape: str) -> list[tuple[int, int]]:
    """The code points Python's `re` matches with `escape` on str, as ranges (RE2's classes are ASCII).

    Taken from `re` itself over every code point (about 0.2 s, once per process and class).
    """
    every = array.array("I", range(_MAX_CODEPOINT + 1)).tobytes().decode("utf-32-le", "surrogatepass")
    return [(m.start(), m.end() - 1) for m in re.finditer(escape + "+", every)]
