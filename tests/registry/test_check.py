"""Impact check: a candidate schema run over recent good events and bad rows of a temporary lake."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import ConfigError
from registry.check import check_impact, parse_since

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CO = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"


def _candidate(max_length: int) -> dict[str, Any]:
    schema: dict[str, Any] = orjson.loads((ROOT / "tests/cases/compat/checkout-1-0-0.json").read_bytes())
    schema["self"]["version"] = "1-0-1"
    schema["properties"]["order_id"]["maxLength"] = max_length
    return schema


def _entity(order_id: str, version: str = "1-0-0") -> dict[str, Any]:
    return {"schema": f"iglu:com.acme/checkout/jsonschema/{version}", "data": {"order_id": order_id, "total": 5}}


def _good(lake: Path, when: datetime, rows: list[tuple[dict[str, Any] | None, list[dict[str, Any]]]]) -> None:
    folder = lake / f"good/date={when:%Y-%m-%d}/hour={when:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "unstruct_event": [orjson.dumps({"schema": UE, "data": u}).decode() if u else None for u, _ in rows],
            "contexts": [orjson.dumps({"schema": CO, "data": c}).decode() if c else None for _, c in rows],
            "collector_tstamp": pa.array([when] * len(rows), pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, folder / f"part-{len(list(folder.iterdir()))}.parquet")


def _bad(lake: Path, when: datetime, rows: list[dict[str, Any]]) -> None:
    folder = lake / f"bad/schema_violations/date={when:%Y-%m-%d}/hour={when:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")


def _bad_row(params: dict[str, str], failed: list[str]) -> dict[str, Any]:
    return {
        "schema": "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0",
        "data": {
            "processor": {"artifact": "eventkit-enrich", "version": "0.1.0"},
            "failure": {
                "timestamp": "2026-03-10T12:00:00Z",
                "messages": [{"schemaKey": k, "error": {}} for k in failed],
            },
            "payload": {
                "raw": {
                    "vendor": "com.snowplowanalytics.snowplow",
                    "version": "tp2",
                    "parameters": [{"name": n, "value": v} for n, v in params.items()],
                }
            },
        },
    }


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    recent = NOW - timedelta(hours=2)
    _good(root, recent, [(_entity("short"), []), (_entity("x" * 80), [_entity("ctx")]), (None, [_entity("y" * 70)])])
    _good(root, recent, [({"schema": "iglu:com.acme/other/jsonschema/1-0-0", "data": {}}, [])])
    _good(root, NOW - timedelta(days=30), [(_entity("z" * 90), [])])  # too old: outside --since
    long_ue = orjson.dumps({"schema": UE, "data": _entity("w" * 150)}).decode()
    fixable_cx = (
        base64.urlsafe_b64encode(orjson.dumps({"schema": CO, "data": [_entity("v" * 120)]})).decode().rstrip("=")
    )
    checkout = "iglu:com.acme/checkout/jsonschema/1-0-0"
    _bad(
        root,
        recent,
        [
            _bad_row({"ue_pr": long_ue}, [checkout]),  # fixed by maxLength 200
            _bad_row({"cx": fixable_cx}, [checkout]),  # fixed (base64 contexts)
            _bad_row({"ue_pr": long_ue}, [checkout, "iglu:com.acme/other/jsonschema/1-0-0"]),  # other failure remains
            _bad_row({"ue_pr": orjson.dumps({"schema": UE, "data": _entity("u" * 300)}).decode()}, [checkout]),
            _bad_row({"ue_pr": long_ue}, ["iglu:com.acme/unrelated/jsonschema/1-0-0"]),  # not about this schema
        ],
    )
    return root


def test_counts_pass_newly_fail_and_fixed(lake: Path) -> None:
    """maxLength 60: short ids pass, 70/80-char ids newly fail; 200-limit bad rows are not fixed by it."""
    report = check_impact(_candidate(60), str(lake), since=timedelta(days=7), now=NOW)
    assert (report.entities_checked, report.would_pass, report.would_newly_fail) == (4, 2, 2)
    assert report.by_version == {"1-0-0": {"pass": 2, "fail": 2}}
    assert (report.bad_rows_checked, report.bad_rows_fixed, report.bad_rows_still_failing) == (4, 0, 4)
    assert "maxLength" in report.failures[0]["error"] or "too long" in report.failures[0]["error"]


def test_relaxed_candidate_fixes_bad_rows(lake: Path) -> None:
    """maxLength 200: everything recent passes and two bad rows (ue_pr and base64 cx) are fixed."""
    report = check_impact(_candidate(200), str(lake), since=timedelta(days=7), now=NOW)
    assert (report.would_pass, report.would_newly_fail) == (4, 0)
    assert (report.bad_rows_fixed, report.bad_rows_still_failing) == (2, 2)
    assert report.to_json()["bad"]["wouldFix"] == 2
    assert "would fix 2" in report.summary()


def test_since_window_includes_older_partitions(lake: Path) -> None:
    """With --since 60d the month-old partition is read too."""
    report = check_impact(_candidate(60), str(lake), since=timedelta(days=60), now=NOW)
    assert report.entities_checked == 5


def test_parse_since() -> None:
    """7d, 12h and 30m are durations; anything else is a ConfigError naming the forms."""
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("12h") == timedelta(hours=12)
    assert parse_since("30m") == timedelta(minutes=30)
    with pytest.raises(ConfigError, match="7d"):
        parse_since("a week")


def test_empty_lake_reports_zeroes(tmp_path: Path) -> None:
    """A lake with nothing in it yields a zero report, not an error."""
    report = check_impact(_candidate(60), str(tmp_path), since=timedelta(days=7), now=NOW)
    assert report.entities_checked == 0 and report.bad_rows_checked == 0
