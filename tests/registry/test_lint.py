"""Lint: igluctl's checks and levels, our extra checks, and a clean bill for every iglu-central schema."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.iglu import SchemaKey
from registry.lint import CHECKS, has_errors, lint_schema, lint_versions
from registry.regex_safety import analyse_pattern

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "lint"
EXPECTED: dict[str, list[str]] = orjson.loads((CASES / "expected.json").read_bytes())
SCHEMA_ROOTS = [ROOT / "schemas", ROOT / "tests" / "cases" / "iglu-central" / "schemas"]


def _repo_schemas() -> list[tuple[Path, SchemaKey]]:
    found = []
    for root in SCHEMA_ROOTS:
        for file in sorted(root.rglob("*")):
            if file.is_file() and re.fullmatch(r"\d+-\d+-\d+", file.name):
                found.append((file, SchemaKey.parse_path(file.relative_to(root).as_posix())))
    return found


def test_every_iglu_central_schema_lints_without_errors() -> None:
    """Every schema in schemas/ and tests/cases/iglu-central has no ERROR finding, path and versions included."""
    schemas = _repo_schemas()
    assert len(schemas) >= 90
    errors = []
    for file, key in schemas:
        errors += [(file, f) for f in lint_schema(orjson.loads(file.read_bytes()), path_key=key) if f.level == "ERROR"]
    assert errors == []
    assert lint_versions([key for _, key in schemas]) == []


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_check_fires_on_its_golden_case(case: str) -> None:
    """Each golden schema in tests/cases/lint triggers exactly the check it is named for (clean.json triggers none)."""
    findings = lint_schema(orjson.loads((CASES / case).read_bytes()))
    found = {f.check for f in findings}
    assert set(EXPECTED[case]) <= found
    if not EXPECTED[case]:
        assert findings == []
    for f in findings:
        assert f.level == CHECKS[f.check][0]
        assert f.pointer.startswith("/")


def test_levels_follow_igluctl() -> None:
    """Check names and levels are igluctl's: structural checks are ERROR, style checks WARNING or INFO."""
    assert CHECKS["rootObject"] == ("WARNING", True)
    assert CHECKS["stringLength"] == ("WARNING", True)
    assert CHECKS["optionalNull"] == ("INFO", True)
    assert CHECKS["description"] == ("INFO", True)
    assert CHECKS["numericMinimumMaximum"] == ("ERROR", False)
    assert CHECKS["requiredPropertiesExist"] == ("ERROR", False)
    assert CHECKS["schemaUri"] == ("ERROR", False)


def test_skipping_removes_only_skippable_checks() -> None:
    """--skip-checks silences WARNING/INFO checks, while an ERROR check stays even when named."""
    schema = orjson.loads((CASES / "stringLength.json").read_bytes())
    assert "stringLength" in {f.check for f in lint_schema(schema)}
    assert "stringLength" not in {f.check for f in lint_schema(schema, skip=frozenset({"stringLength"}))}
    bad = orjson.loads((CASES / "schemaUri.json").read_bytes())
    assert has_errors(lint_schema(bad, skip=frozenset({"schemaUri"})))


def test_self_must_match_the_file_path() -> None:
    """A schema whose self block differs from its path is an ERROR (selfPath) naming both."""
    schema = orjson.loads((CASES / "clean.json").read_bytes())
    other = SchemaKey.parse("iglu:com.acme/clean/jsonschema/1-0-1")
    findings = [f for f in lint_schema(schema, path_key=other) if f.check == "selfPath"]
    assert findings and "1-0-1" in findings[0].message and "1-0-0" in findings[0].message


def test_version_gaps_are_errors() -> None:
    """A model folder with 1-0-0 and 1-0-2 but no 1-0-1, or 3-0-0 without 2-*-*, is flagged as versionGaps."""
    keys = [SchemaKey.parse(f"iglu:com.acme/e/jsonschema/{v}") for v in ("1-0-0", "1-0-2", "3-0-0", "1-1-0")]
    flagged = {str(key.version) for key, finding in lint_versions(keys) if finding.check == "versionGaps"}
    assert flagged == {"1-0-2", "3-0-0"}


def test_non_object_documents_are_errors_not_crashes() -> None:
    """A JSON array or string is reported, never raised."""
    for document in ([], "x", 3, None):
        assert has_errors(lint_schema(document))


EVIL = [
    r"(a+)+$",
    r"(\w+\s?)+$",
    r"(a*)*b",
    r"(a|a)*c",
    r"(\d|[0-9a-f])+x",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"^(\d+\.\d+)+$",
]
SAFE = [
    r"^[a-z]+$",
    r"(\w+\s)+",
    r"([a-z]+\.)+[a-z]+",
    r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$",
    r"(ab|a)*",
    r"^\d{4}-\d{2}$",
]


@pytest.mark.parametrize("pattern", EVIL)
def test_catastrophic_patterns_are_flagged(pattern: str) -> None:
    """Nested quantifiers and overlapping repeated alternations are reported."""
    assert [r.kind for r in analyse_pattern(pattern)] in (["nested-quantifier"], ["overlapping-alternation"])


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_are_not_flagged(pattern: str) -> None:
    """Delimited repeats, bounded repeats and plain classes pass."""
    assert analyse_pattern(pattern) == []


def test_a_flagged_pattern_really_backtracks() -> None:
    """The flagged shape is slow in a backtracking engine (Python's re), doubling per extra character."""
    evil = re.compile(r"^(\w+\s?)+$")

    def best_of_three(n: int) -> float:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            evil.match("a" * n + "!")
            runs.append(time.perf_counter() - start)
        return min(runs)

    assert best_of_three(18) > best_of_three(12) * 8  # 2^6 expected; 8 leaves room for a noisy machine


@given(st.text(max_size=40))
def test_pattern_analysis_never_raises(pattern: str) -> None:
    """Any string, valid regex or not, yields a list of risks and no exception."""
    risks = analyse_pattern(pattern)
    assert isinstance(risks, list)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["type", "properties", "required", "maxLength", "minimum", "pattern", "items", "enum", "self"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(_json)
def test_lint_never_raises(document: object) -> None:
    """Any JSON document gets findings, never an exception."""
    assert isinstance(lint_schema(document), list)
