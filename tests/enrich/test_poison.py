"""No single record stalls enrich: catastrophic patterns, the per-event validation budget, and poison records.

On the real SQLite queue and a local lake: a record whose processing raises or kills the worker
every time ends as exactly one generic_error bad row and is acked, its neighbours as exactly one
row each; an event that validates past the budget is a schema_violations bad row, not a stall.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import orjson
import pytest

from core.badrows import SchemaViolations
from core.errors import RegistryUnavailable
from core.lake.local import LocalLake
from core.queue import open_publisher, open_subscriber
from enrich.attempts import AttemptLog
from enrich.cli import attempt_log_path, build_enrich
from enrich.outcome import Good, Outcome
from enrich.outputs.commit import Backoff
from enrich.outputs.rolling import CutPolicy
from enrich.worker import EnrichWorker, WorkerConfig
from tests.enrich.event_mix import (
    SELF_DESC,
    SP,
    b64,
    check_bad_row,
    raw_mix,
    raw_record,
    read_lake,
    registry_chain,
    unstruct,
    write_acme_registry,
)
from tests.enrich.processes import REPO, EventkitProcess, free_port
from tests.enrich.test_worker import _drain, _queue_is_empty

FAST = WorkerConfig(
    batch_size=7,
    pull_timeout_s=0.05,
    policy=CutPolicy(max_events=5, max_bytes=10**8, max_age_s=0.2),
    lake_backoff=Backoff(0.01, 0.05),
    registry_backoff=Backoff(0.01, 0.05),
)
NEAR_MISS = "a" * 29 + "!"
ISSUE_15 = [r"^(a{1,99})+$", r"^(a+){2,50}$", r"^(.*a){20}$", r"(a{0,99}){0,99}$"]
SLOW_FALLBACK = r"^(?=a)(a|aa)+$"  # catastrophic, and out of RE2's reach: only the budget bounds it


def _word_schemas(root: Path, patterns: dict[str, str]) -> Path:
    """One com.acme schema per name, whose `word` must match the given pattern."""
    for name, pattern in patterns.items():
        folder = root / "com.acme" / name / "jsonschema"
        folder.mkdir(parents=True, exist_ok=True)
        schema = {
            "$schema": SELF_DESC,
            "self": {"vendor": "com.acme", "name": name, "format": "jsonschema", "version": "1-0-0"},
            "type": "object",
            "properties": {"word": {"type": "string", "pattern": pattern}},
            "required": ["word"],
        }
        (folder / "1-0-0").write_text(json.dumps(schema))
    return root


def _word_event(eid: str, name: str, word: str) -> list[tuple[str, str]]:
    return [
        ("e", "ue"),
        ("eid", eid),
        ("p", "web"),
        ("tv", "py-1.1.0"),
        ("ue_px", b64(unstruct(name, {"word": word}))),
    ]


def test_a_record_that_always_raises_becomes_one_generic_error_and_is_acked(tmp_path: Path) -> None:
    """Raising on every attempt: tried max_attempts times, then one generic_error row carrying its bytes; the
    neighbours end exactly once and the queue empties."""
    mix = raw_mix()
    poison = raw_record([("e", "pv"), ("eid", "c0ffee00-0000-4000-8000-000000000001")], version="tp1")
    url = f"sqlite://{tmp_path}/queue.db"
    open_publisher(url).publish([*mix.records[:3], poison, *mix.records[3:]])
    real, _ = build_enrich(registry_chain(write_acme_registry(tmp_path / "schemas")), None)
    calls = {"poison": 0}

    def raising(raw: bytes, etl_ms: int) -> list[Outcome]:
        if raw == poison:
            calls["poison"] += 1
            raise KeyError("a bug only this record reaches")
        return real(raw, etl_ms)

    lake = LocalLake(tmp_path / "lake")
    attempts = AttemptLog(tmp_path / "attempts.db")
    worker = EnrichWorker(open_subscriber(url), lake, raising, FAST, attempts=attempts)
    _drain(worker)
    assert calls["poison"] == 3
    got = read_lake(lake)
    errors = got.bad.get("generic_error", [])
    assert len(errors) == 1
    check_bad_row(errors[0])
    assert base64.b64decode(errors[0]["data"]["payload"]) == poison
    assert "after 3 failed attempts" in errors[0]["data"]["failure"]["errors"][0]
    assert sorted(got.good_ids) == sorted(mix.good_ids)  # neighbours exactly once
    assert sorted(got.bad_event_ids("schema_violations")) == sorted(mix.bad_ids["schema_violations"])
    assert _queue_is_empty(url)
    assert attempts.counted() == 0  # acked: its count is forgotten
    assert worker.metrics.value("enrich_infrastructure_retries_total", {"what": "poison"}) == 1


def test_max_attempts_is_configurable(tmp_path: Path) -> None:
    """With max_attempts=1 the first failure is the last attempt."""
    poison = raw_record([("e", "pv")], version="tp1")
    url = f"sqlite://{tmp_path}/queue.db"
    open_publisher(url).publish([poison])
    calls = {"n": 0}

    def raising(raw: bytes, etl_ms: int) -> list[Outcome]:
        calls["n"] += 1
        raise RuntimeError("always")

    lake = LocalLake(tmp_path / "lake")
    config = WorkerConfig(**{**{f: getattr(FAST, f) for f in FAST.__dataclass_fields__}, "max_attempts": 1})
    worker = EnrichWorker(open_subscriber(url), lake, raising, config, attempts=AttemptLog(tmp_path / "a.db"))
    _drain(worker)
    assert calls["n"] == 1
    assert len(read_lake(lake).bad["generic_error"]) == 1
    assert _queue_is_empty(url)


_CRASHING_WORKER = textwrap.dedent(
    """
    import os, sys
    from core.lake.local import LocalLake
    from core.queue import open_subscriber
    from enrich.attempts import AttemptLog
    from enrich.cli import attempt_log_path, build_enrich
    from enrich.outputs.commit import Backoff
    from enrich.outputs.rolling import CutPolicy
    from enrich.worker import EnrichWorker, WorkerConfig

    queue, lake, registry, poison_file, crashes = sys.argv[1:]
    poison = open(poison_file, "rb").read()
    real, _ = build_enrich(registry, None)

    def crashing(raw, etl_ms):
        if raw == poison:  # what a segfault or an OOM kill does to the process: no flush, no ack
            with open(crashes, "a") as f:
                f.write("crash\\n")
            os._exit(70)
        return real(raw, etl_ms)

    # Files are cut by age between batches only: a crash inside enrich then never follows a partial commit.
    config = WorkerConfig(
        batch_size=50, pull_timeout_s=0.05, policy=CutPolicy(10**6, 10**8, 0.2), lake_backoff=Backoff(0.01, 0.05)
    )
    worker = EnrichWorker(
        open_subscriber(queue, lease_seconds=1.0), LocalLake(lake), crashing, config,
        attempts=AttemptLog(attempt_log_path(queue)),
    )
    idle = 0
    while idle < 20:
        idle = idle + 1 if worker.step() == 0 and worker.in_flight == 0 else 0
    worker.flush()
    """
)


@pytest.mark.slow
def test_a_record_that_kills_the_worker_is_given_up_after_three_crashes(tmp_path: Path) -> None:
    """A record that kills the worker process each time: the count written before processing survives the
    crash; after three crashes a restarted worker writes one generic_error row, and no row is doubled."""
    mix = raw_mix()
    poison = raw_record([("e", "pv"), ("eid", "dead0000-0000-4000-8000-000000000001")], version="tp1")
    queue = f"sqlite://{tmp_path}/queue.db"
    open_publisher(queue).publish([*mix.records[:4], poison, *mix.records[4:]])
    (tmp_path / "poison").write_bytes(poison)
    registry = registry_chain(write_acme_registry(tmp_path / "schemas"))
    crashes = tmp_path / "crashes"
    lake = LocalLake(tmp_path / "lake")
    codes = []
    for _ in range(6):  # a supervisor restarting the worker
        args = [queue, str(lake.root), registry, str(tmp_path / "poison"), str(crashes)]
        run = subprocess.run(
            [sys.executable, "-c", _CRASHING_WORKER, *args], cwd=REPO, capture_output=True, timeout=120, check=False
        )
        codes.append(run.returncode)
        if run.returncode == 0:
            break
        time.sleep(1.1)  # the dead worker's leases expire
    assert codes == [70, 70, 70, 0], codes
    assert crashes.read_text().count("crash") == 3
    got = read_lake(lake)
    assert len(got.bad["generic_error"]) == 1
    assert base64.b64decode(got.bad["generic_error"][0]["data"]["payload"]) == poison
    assert sorted(got.good_ids) == sorted(mix.good_ids)
    assert sorted(got.bad_event_ids("schema_violations")) == sorted(mix.bad_ids["schema_violations"])
    for type_name, n in mix.bad_requests.items():
        assert len(got.bad[type_name]) == n
    assert _queue_is_empty(queue)
    assert attempt_log_path(queue).exists()


def test_an_event_over_the_validation_budget_is_a_bad_row_and_its_neighbour_is_good(tmp_path: Path) -> None:
    """A near miss against a pattern only a backtracking engine can run ends, within the budget, as a
    schema_violations row naming the budget; the next event of the same POST is good."""
    registry = registry_chain(_word_schemas(tmp_path / "schemas", {"slow": SLOW_FALLBACK}))
    enrich, _ = build_enrich(registry, None, validation_budget_ms=50)
    events = [
        dict(_word_event("00000000-0000-4000-8000-000000000001", "slow", "a" * 40 + "!")),
        dict(_word_event("00000000-0000-4000-8000-000000000002", "slow", "aaaa")),
    ]
    body = orjson.dumps({"schema": f"iglu:{SP}/payload_data/jsonschema/1-0-4", "data": events}).decode()
    record = raw_record(body=body, content_type="application/json")
    enrich(record, 0)  # compile the schema (not charged to any event)
    started = time.perf_counter()
    outcomes = enrich(record, int(time.time() * 1000))
    assert time.perf_counter() - started < 1.0
    bad, good = outcomes
    assert isinstance(bad, SchemaViolations) and isinstance(good, Good)
    check_bad_row(orjson.loads(bad.encode()))
    text = bad.encode().decode()
    assert "timeBudget" in text and "time budget of 50 ms" in text


@pytest.mark.parametrize("pattern", ISSUE_15)
def test_issue_15_pattern_near_miss_is_decided_at_once_by_the_pipeline(tmp_path: Path, pattern: str) -> None:
    """Each pattern that stalled `eventkit up` for 47 s: 29 `a`s and a `!` enrich in well under a second."""
    registry = registry_chain(_word_schemas(tmp_path / "schemas", {"word": pattern}))
    enrich, _ = build_enrich(registry, None)
    record = raw_record(_word_event("00000000-0000-4000-8000-000000000003", "word", NEAR_MISS), version="tp1")
    enrich(raw_record(_word_event("00000000-0000-4000-8000-000000000004", "word", "aaa"), version="tp1"), 0)
    started = time.perf_counter()
    (outcome,) = enrich(record, int(time.time() * 1000))
    assert time.perf_counter() - started < 0.5
    assert isinstance(outcome, Good) == (pattern == ISSUE_15[3])  # only the last matches the near miss


@pytest.mark.slow
def test_enrich_cli_drains_a_near_miss_with_budget_and_attempt_flags(tmp_path: Path) -> None:
    """`eventkit enrich --workers 2 --validation-budget-ms 50 --max-delivery-attempts 2` on a queue holding a
    near miss for each issue-15 pattern and for a regex-only pattern: every event ends as exactly one row."""
    patterns = {f"word{i}": p for i, p in enumerate(ISSUE_15)} | {"slow": SLOW_FALLBACK}
    registry = registry_chain(_word_schemas(write_acme_registry(tmp_path / "schemas"), patterns))
    queue = f"sqlite://{tmp_path}/queue.db"
    records, ids = [], []
    for n, name in enumerate(patterns):
        eid = f"00000000-0000-4000-8000-{n:012d}"
        ids.append(eid)
        word = "a" * 40 + "!" if name == "slow" else NEAR_MISS
        records.append(raw_record(_word_event(eid, name, word), version="tp1"))
    neighbour = raw_mix()
    open_publisher(queue).publish([*records, *neighbour.records])
    lake = LocalLake(tmp_path / "lake")
    args = ["enrich", "--raw", queue, "--lake", str(lake.root), "--registry", registry, "--max-age", "0.2"]
    flags = ["--workers", "2", "--validation-budget-ms", "50", "--max-delivery-attempts", "2"]
    proc = EventkitProcess([*args, *flags], tmp_path / "enrich.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _queue_is_empty(queue):
            time.sleep(0.2)
        time.sleep(3)  # a lease expiring now would show as a duplicate below
    finally:
        assert proc.terminate() == 0, proc.log()
    got = read_lake(lake)
    bad_ids = got.bad_event_ids("schema_violations")
    assert sorted(bad_ids) == sorted([*ids[:3], ids[4], *neighbour.bad_ids["schema_violations"]])
    assert sorted(got.good_ids) == sorted([ids[3], *neighbour.good_ids])
    assert "generic_error" not in got.bad
    assert _queue_is_empty(queue)


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--validation-budget-ms", "-1"], {}),
        (["--max-delivery-attempts", "0"], {}),
        ([], {"EVENTKIT_ENRICH__MAX_DELIVERY_ATTEMPTS": "0"}),
        ([], {"EVENTKIT_ENRICH__VALIDATION_BUDGET_MS": "soon"}),
    ],
)
def test_bad_budget_or_attempt_settings_exit_2_with_one_line(
    tmp_path: Path, flags: list[str], env: dict[str, str]
) -> None:
    """A negative budget or fewer than one attempt, by flag or by EVENTKIT_ENRICH__* variable, is a usage error."""
    queue = f"sqlite://{tmp_path}/queue.db"
    cli = [sys.executable, "-c", "from core.cli import main; main()", "enrich"]
    run = subprocess.run(
        [*cli, "--raw", queue, "--lake", str(tmp_path / "lake"), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **env},
        check=False,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_registry_outages_never_count_as_failed_attempts(tmp_path: Path) -> None:
    """A record given back five times for a registry outage is not poison: it ends good once the registry is back."""
    mix = raw_mix()
    url = f"sqlite://{tmp_path}/queue.db"
    open_publisher(url).publish(mix.records[:1])
    real, _ = build_enrich(registry_chain(write_acme_registry(tmp_path / "schemas")), None)
    outage = {"left": 5}

    def flaky(raw: bytes, etl_ms: int) -> list[Outcome]:
        if outage["left"] > 0:
            outage["left"] -= 1
            raise RegistryUnavailable("registry down")
        return real(raw, etl_ms)

    lake = LocalLake(tmp_path / "lake")
    attempts = AttemptLog(tmp_path / "attempts.db")
    worker = EnrichWorker(open_subscriber(url), lake, flaky, FAST, attempts=attempts)
    _drain(worker)
    got = read_lake(lake)
    assert outage["left"] == 0
    assert "generic_error" not in got.bad
    assert len(got.good_ids) == 1
    assert attempts.counted() == 0  # nothing was ever counted
    assert _queue_is_empty(url)


def test_a_record_back_to_the_worker_holding_it_is_not_enriched_twice(tmp_path: Path) -> None:
    """Its lease runs out while its outputs wait for the file cut: the worker takes the new lease, keeps the
    outputs, and the record ends as one row, acked under the new lease."""
    mix = raw_mix()
    url = f"sqlite://{tmp_path}/queue.db"
    open_publisher(url).publish(mix.records[:1])
    real, _ = build_enrich(registry_chain(write_acme_registry(tmp_path / "schemas")), None)
    calls = {"n": 0}

    def counting(raw: bytes, etl_ms: int) -> list[Outcome]:
        calls["n"] += 1
        return real(raw, etl_ms)

    slow_cut = WorkerConfig(batch_size=7, pull_timeout_s=0.05, policy=CutPolicy(10**6, 10**8, 1.5))
    lake = LocalLake(tmp_path / "lake")
    worker = EnrichWorker(
        open_subscriber(url, lease_seconds=0.3), lake, counting, slow_cut, attempts=AttemptLog(tmp_path / "a.db")
    )
    assert worker.step() == 1
    time.sleep(0.4)  # the lease runs out; the file is not due yet
    assert worker.step() == 1  # the same record, leased again
    assert worker.in_flight == 1
    _drain(worker)
    assert calls["n"] == 1
    assert len(read_lake(lake).good_ids) == 1
    assert _queue_is_empty(url)


@pytest.mark.slow
def test_eventkit_up_stays_responsive_on_issue_15_near_misses(tmp_path: Path) -> None:
    """`eventkit up` (real uvicorn) gets a near miss for each issue-15 pattern by GET: /health keeps answering
    fast, and each event is one bad row in /micro/bad within seconds (it took 47 s per event before)."""
    patterns = {f"word{i}": p for i, p in enumerate(ISSUE_15[:3])}
    registry = _word_schemas(tmp_path / "schemas", patterns)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["up", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--registry", str(registry)]
    proc = EventkitProcess(args, tmp_path / "up.log")
    try:
        proc.wait_http(f"{base}/health")
        for n, name in enumerate(patterns):
            event = _word_event(f"00000000-0000-4000-8000-{n:012d}", name, NEAR_MISS)
            assert httpx.get(f"{base}/i", params=dict(event)).status_code == 200
        slowest, deadline = 0.0, time.monotonic() + 30
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert httpx.get(f"{base}/health", timeout=5).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            if httpx.get(f"{base}/micro/all").json()["bad"] >= len(patterns):
                break
            time.sleep(0.1)
        bad = httpx.get(f"{base}/micro/bad").json()
        assert len(bad) == len(patterns), proc.log()
        assert all("does not match" in json.dumps(row) for row in bad)
        assert slowest < 1.0
    finally:
        assert proc.terminate() == 0, proc.log()
