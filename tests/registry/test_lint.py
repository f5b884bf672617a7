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
from registry.lint import CHECKS, OPT_IN_CHECKS, has_errors, lint_schema, lint_versions
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
    findings = lint_schema(orjson.loads((CASES / case).read_bytes()), include=OPT_IN_CHECKS)
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
    # issue 15: bounded counts still split a near miss exponentially many ways
    r"^(a{1,99})+$",
    r"^(a+){2,50}$",
    r"^(.*a){20}$",
    r"(a{0,99}){0,99}$",
]
SAFE = [
    r"^[a-z]+$",
    r"(\w+\s)+",
    r"([a-z]+\.)+[a-z]+",
    r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$",
    r"(ab|a)*",
    r"^\d{4}-\d{2}$",
    r"(\d{1,3}\.){3}\d{1,3}",
    r"^([a-z]{1,5}-){1,20}$",
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


ISSUE_15_PATTERNS = [r"^(a{1,99})+$", r"^(a+){2,50}$", r"^(.*a){20}$", r"(a{0,99}){0,99}$"]


def _schema_with(pattern: str, where: str) -> dict[str, object]:
    string: dict[str, object] = {"type": "string", "maxLength": 100, "description": "a word"}
    schema: dict[str, object] = {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": "com.acme", "name": "word", "format": "jsonschema", "version": "1-0-0"},
        "description": "a word",
        "type": "object",
        "additionalProperties": False,
    }
    if where == "pattern":
        schema["properties"] = {"word": {**string, "pattern": pattern}}
    else:
        schema["patternProperties"] = {pattern: string}
    return schema


@pytest.mark.parametrize("where", ["pattern", "patternProperties"])
@pytest.mark.parametrize("pattern", ISSUE_15_PATTERNS)
def test_issue_15_patterns_are_refused_by_lint_and_publish(tmp_path: Path, pattern: str, where: str) -> None:
    """`schema lint` fails and `schema publish` refuses each pattern that stalled a pipeline, in either keyword."""
    import subprocess
    import sys

    source = tmp_path / "word.json"
    source.write_bytes(orjson.dumps(_schema_with(pattern, where)))
    cli = [sys.executable, "-c", "from core.cli import main; main()", "schema"]
    lint = subprocess.run([*cli, "lint", str(source)], capture_output=True, text=True, timeout=60, check=False)
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "patternBacktracking" in lint.stdout
    registry = tmp_path / "registry"
    publish = subprocess.run(
        [*cli, "publish", str(source), "--registry", str(registry)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert publish.returncode == 1, publish.stdout + publish.stderr
    assert "backtrack" in publish.stdout + publish.stderr
    assert not (registry / "com.acme").exists()


def test_string_max_length_range_runs_only_when_included() -> None:
    """As in igluctl, stringMaxLengthRange (a Redshift limit) is opt-in: silent by default, reported when asked."""
    schema = orjson.loads((CASES / "stringMaxLengthRange.json").read_bytes())
    assert "stringMaxLengthRange" not in {f.check for f in lint_schema(schema)}
    included = lint_schema(schema, include=frozenset({"stringMaxLengthRange"}))
    assert "stringMaxLengthRange" in {f.check for f in included}


def test_the_bundled_schemas_of_eventkit_lint_without_warnings() -> None:
    """`schema lint schemas/io.eventkit` (the project's own collector_payload) reports no warning and no error."""
    root = Path(__file__).resolve().parents[2] / "schemas" / "io.eventkit"
    files = [p for p in root.rglob("*") if p.is_file() and p.parent.name == "jsonschema"]
    assert files
    for file in files:
        findings = lint_schema(orjson.loads(file.read_bytes()))
        assert [f for f in findings if f.level in ("ERROR", "WARNING")] == [], (file, findings)
