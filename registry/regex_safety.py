"""Spot `pattern` regexes that a backtracking engine can take exponential time on (ReDoS) before they ship.

The analysis walks Python's own parse of the pattern (the ECMA-262 subset JSON Schema authors use
parses the same way) and flags the two shapes behind practically every catastrophic pattern:

* a repeated group whose body holds another variable-width repeat that can hand characters to the
  next iteration — `(a+)+`, `(\\w+\\s?)+`, `(a*)*`, `(a{1,99})+`, `(a+){2,50}`, `(.*a){20}` — so a
  near-miss input splits exponentially many ways (a group repeated ten times or more counts as
  repeated: `(a+){20}` has C(n-1, 19) splits);
* a repeated alternation whose single-character branches overlap — `(a|a)*`, `(\\d|[0-9a-f])+`.

It is a heuristic (sound for those shapes, silent on polynomial blow-ups such as `\\d+\\d+`), and
says so in its messages: a finding is "can backtrack catastrophically", not a proof.
"""

from __future__ import annotations

import importlib
import itertools
import re
from dataclasses import dataclass
from typing import Any

# Python's own regex parser (no public name, no type stubs): the tree it builds is what we analyse.
sre_parse: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")

__all__ = ["RegexRisk", "analyse_pattern"]

# Representative characters: enough to tell the usual classes apart (word, digit, space, punctuation, non-ASCII).
_ALPHABET = frozenset([chr(c) for c in range(32, 127)] + ["\t", "\n", "\r", "\u00e9", "\u4e2d", "\u00a0", "\u0660"])
_UNBOUNDED_FROM = 100  # a repeat allowing this many iterations behaves like `*` for backtracking
_REPEATED_FROM = 10  # an outer group repeated this many times already splits a near miss too many ways


@dataclass(frozen=True, slots=True)
class RegexRisk:
    """One reason a pattern is unsafe (or does not compile)."""

    kind: str  # "nested-quantifier" | "overlapping-alternation" | "syntax"
    message: str


def analyse_pattern(pattern: str) -> list[RegexRisk]:
    """Return the catastrophic-backtracking risks of `pattern` (empty when none is found)."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as e:
        return [RegexRisk("syntax", f"pattern does not compile: {e}")]
    risks: list[RegexRisk] = []
    _walk(list(parsed), risks, pattern)
    if not any(r.kind == "overlapping-alternation" for r in risks) and _source_alternation_ambiguous(pattern):
        risks.append(_alternation_risk(pattern))
    return risks


def _source_alternation_ambiguous(pattern: str) -> bool:
    """Look at `(x|y)` groups under an unbounded quantifier in the source text.

    Python's parser folds `(\\d|\\w)` into one character class, hiding the ambiguity a
    backtracking engine (ECMA-262 in trackers and validators) still has, so the branches are
    parsed one by one here.
    """
    stack: list[tuple[int, list[int]]] = []
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            stack.append((i, []))
        elif c == "|" and stack:
            stack[-1][1].append(i)
        elif c == ")" and stack:
            start, bars = stack.pop()
            if bars and _quantified_unbounded(pattern, i + 1):
                inner_start = start + 1
                if pattern.startswith("?:", inner_start):
                    inner_start += 2
                cuts = [inner_start - 1, *bars, i]
                texts = [pattern[a + 1 : b] for a, b in itertools.pairwise(cuts)]
                try:
                    branches = [list(sre_parse.parse(t)) for t in texts]
                except re.error:
                    branches = []
                if branches and _ambiguous_branches(branches):
                    return True
        i += 1
    return False


def _quantified_unbounded(pattern: str, at: int) -> bool:
    if pattern.startswith(("*", "+"), at):
        return True
    m = re.match(r"\{(\d*),(\d*)\}", pattern[at:])
    return m is not None and (m.group(2) == "" or int(m.group(2)) >= _UNBOUNDED_FROM)


def _walk(seq: list[Any], risks: list[RegexRisk], pattern: str) -> None:
    for op, av in seq:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            _lo, hi, body = av
            body_items = list(body)
            if op != sre_c.POSSESSIVE_REPEAT and _is_repeated(hi):
                _check_repeat(body_items, risks, pattern)
            _walk(body_items, risks, pattern)
        elif op == sre_c.SUBPATTERN:
            _walk(list(av[-1]), risks, pattern)
        elif op == sre_c.BRANCH:
            for branch in av[1]:
                _walk(list(branch), risks, pattern)
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            _walk(list(av[1]), risks, pattern)
        elif op == sre_c.ATOMIC_GROUP:
            continue  # atomic groups never backtrack into themselves


def _is_unbounded(hi: int) -> bool:
    return hi == sre_c.MAXREPEAT or hi >= _UNBOUNDED_FROM


def _is_repeated(hi: int) -> bool:
    """An outer repeat that can iterate often enough for nested ambiguity to blow up."""
    return hi == sre_c.MAXREPEAT or hi >= _REPEATED_FROM


def _flatten(seq: list[Any]) -> list[Any]:
    """Inline groups into the surrounding sequence: `(ab)c` is the sequence a, b, c for ambiguity purposes."""
    out: list[Any] = []
    for op, av in seq:
        if op == sre_c.SUBPATTERN:
            out.extend(_flatten(list(av[-1])))
        else:
            out.append((op, av))
    return out


def _check_repeat(body: list[Any], risks: list[RegexRisk], pattern: str) -> None:
    body = _flatten(body)
    first_body, nullable_body = _first(body)
    if nullable_body and _consumes(body):
        risks.append(
            RegexRisk(
                "nested-quantifier",
                f"{pattern!r}: a repeated group can match the empty string and repeat, so a near-miss input "
                "can backtrack catastrophically",
            )
        )
        return
    for index, (op, av) in enumerate(body):
        tail = body[index + 1 :]
        for inner in _variable_repeats([(op, av)]):
            inner_chars = _chars(list(inner[2]))
            if (inner_chars & first_body) and _absorbable(tail, inner_chars):
                risks.append(
                    RegexRisk(
                        "nested-quantifier",
                        f"{pattern!r}: a repeated group contains an unbounded repeat that can also start the "
                        "next iteration (like (a+)+), so a near-miss input can backtrack catastrophically",
                    )
                )
                return
    for op, av in body:
        branch = _branch_of(op, av)
        if branch is None:
            continue
        if _ambiguous_branches([list(b) for b in branch]):
            risks.append(_alternation_risk(pattern))
            return


def _alternation_risk(pattern: str) -> RegexRisk:
    return RegexRisk(
        "overlapping-alternation",
        f"{pattern!r}: a repeated alternation has branches matching the same text "
        "(like (a|a)* or (\\d|\\w)+), so a near-miss input can backtrack catastrophically",
    )


def _ambiguous_branches(branches: list[list[Any]]) -> bool:
    """Two branches that both match the empty string, or both match one character from a shared set."""
    if sum(1 for b in branches if _first(b)[1]) >= 2:
        return True
    singles = [b for b in branches if _width(b) == (1, 1)]
    for i, left in enumerate(singles):
        for right in singles[i + 1 :]:
            if _first(left)[0] & _first(right)[0]:
                return True
    return False


def _width(seq: list[Any]) -> tuple[int, int]:
    sub = sre_parse.SubPattern(sre_parse.State(), seq)
    lo, hi = sub.getwidth()
    return int(lo), int(hi)


def _absorbable(tail: list[Any], chars: frozenset[str]) -> bool:
    """True when the rest of the body can be matched using characters the inner repeat also matches."""
    for op, av in tail:
        node_first, nullable = _first_node(op, av)
        if not nullable and not (node_first & chars):
            return False
    return True


def _branch_of(op: Any, av: Any) -> list[Any] | None:
    if op == sre_c.BRANCH:
        return list(av[1])
    if op == sre_c.SUBPATTERN:
        inner = list(av[-1])
        if len(inner) == 1:
            return _branch_of(*inner[0])
    if op == sre_c.IN:
        return None
    return None


def _variable_repeats(seq: list[Any]) -> list[Any]:
    """Repeats whose iteration count varies (`a+`, `a{1,99}`, not `a{4}`): they can give characters away."""
    found: list[Any] = []
    for op, av in seq:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            if av[1] == sre_c.MAXREPEAT or av[1] > av[0]:
                found.append(av)
            found.extend(_variable_repeats(list(av[2])))
        elif op == sre_c.SUBPATTERN:
            found.extend(_variable_repeats(list(av[-1])))
        elif op == sre_c.BRANCH:
            for branch in av[1]:
                found.extend(_variable_repeats(list(branch)))
    return found


def _consumes(seq: list[Any]) -> bool:
    """True when the sequence can match at least one character."""
    return bool(_chars(seq))


def _first(seq: list[Any]) -> tuple[frozenset[str], bool]:
    """Characters that can start a match of `seq`, and whether `seq` can match the empty string."""
    first: set[str] = set()
    for op, av in seq:
        node_first, nullable = _first_node(op, av)
        first |= node_first
        if not nullable:
            return frozenset(first), False
    return frozenset(first), True


def _first_node(op: Any, av: Any) -> tuple[frozenset[str], bool]:
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        inner_first, inner_nullable = _first(list(av[2]))
        return inner_first, av[0] == 0 or inner_nullable
    if op in (sre_c.SUBPATTERN, sre_c.ATOMIC_GROUP):
        return _first(list(av[-1] if op == sre_c.SUBPATTERN else av))
    if op == sre_c.BRANCH:
        first: set[str] = set()
        nullable = False
        for branch in av[1]:
            f, n = _first(list(branch))
            first |= f
            nullable = nullable or n
        return frozenset(first), nullable
    if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT, sre_c.GROUPREF_EXISTS):
        return frozenset(), True
    if op == sre_c.GROUPREF:
        return _ALPHABET, True
    return _single(op, av), False


def _chars(seq: list[Any]) -> frozenset[str]:
    """Every character some part of `seq` can consume."""
    out: set[str] = set()
    for op, av in seq:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            out |= _chars(list(av[2]))
        elif op == sre_c.SUBPATTERN:
            out |= _chars(list(av[-1]))
        elif op == sre_c.ATOMIC_GROUP:
            out |= _chars(list(av))
        elif op == sre_c.BRANCH:
            for branch in av[1]:
                out |= _chars(list(branch))
        elif op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT, sre_c.GROUPREF_EXISTS):
            continue
        elif op == sre_c.GROUPREF:
            out |= _ALPHABET
        else:
            out |= _single(op, av)
    return frozenset(out)


def _single(op: Any, av: Any) -> frozenset[str]:
    """The alphabet characters one single-character node matches."""
    if op == sre_c.LITERAL:
        return frozenset({chr(av)})
    if op == sre_c.NOT_LITERAL:
        return _ALPHABET - {chr(av)}
    if op == sre_c.ANY:
        return _ALPHABET - {"\n"}
    if op == sre_c.IN:
        items = list(av)
        negate = bool(items) and items[0][0] == sre_c.NEGATE
        chars: set[str] = set()
        for item_op, item_av in items[1:] if negate else items:
            chars |= _single(item_op, item_av)
        return _ALPHABET - chars if negate else frozenset(chars)
    if op == sre_c.RANGE:
        lo, hi = av
        return frozenset(c for c in _ALPHABET if lo <= ord(c) <= hi) | {chr(lo), chr(hi)}
    if op == sre_c.CATEGORY:
        return _category(av)
    return _ALPHABET  # unknown single-character construct: assume it can match anything


_CATEGORY_TESTS: dict[Any, Any] = {
    sre_c.CATEGORY_DIGIT: str.isdigit,
    sre_c.CATEGORY_NOT_DIGIT: lambda c: not c.isdigit(),
    sre_c.CATEGORY_SPACE: str.isspace,
    sre_c.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    sre_c.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    sre_c.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
}


def _category(cat: Any) -> frozenset[str]:
    test = _CATEGORY_TESTS.get(cat)
    if test is None:
        return _ALPHABET
    return frozenset(c for c in _ALPHABET if test(c))
