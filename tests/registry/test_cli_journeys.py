"""The schema publisher's journeys through the real `eventkit` entry point in a subprocess: exit codes and output."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.iglu import SchemaKey
from registry.api import create_app
from registry.store import open_store
from tests.registry.registry_server import running

MASTER = "0f4b3c57-6c1d-4a44-9d2e-1d5f7b0e8c11"
SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"


def eventkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def _schema(version: str, props: dict[str, Any], required: list[str], *, additional: bool = False) -> dict[str, Any]:
    return {
        "$schema": SELF_DESC,
        "description": "A button click",
        "self": {"vendor": "com.acme", "name": "click", "format": "jsonschema", "version": version},
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": additional,
    }


def _write(path: Path, schema: Any) -> Path:
    path.write_bytes(orjson.dumps(schema) if not isinstance(schema, bytes) else schema)
    return path


_ID = {"type": "string", "maxLength": 20}
_LABEL = {"type": "string", "maxLength": 50}


def test_a_required_property_a_closed_schema_forbade_is_a_model(tmp_path: Path) -> None:
    """diff says MODEL with every generated instance rejected; publish --dry-run refuses it as 1-1-0, takes 2-0-0."""
    old = _write(tmp_path / "1-0-0.json", _schema("1-0-0", {"id": _ID}, ["id"]))
    new_schema = _schema("1-1-0", {"id": _ID, "label": _LABEL}, ["id", "label"])
    new = _write(tmp_path / "1-1-0.json", new_schema)
    result = eventkit("schema", "diff", str(old), str(new))
    assert result.returncode == 0, result.stderr
    assert "verdict: MODEL" in result.stdout
    assert "'label' is required by the new schema but the old one does not allow it" in result.stdout
    counts = next(line for line in result.stdout.splitlines() if line.startswith("instances generated"))
    tested, rejected = counts.split(": ")[1].split(",")[0], counts.split(": ")[2].split(" ")[0]
    assert int(tested) > 0 and rejected == tested and counts.endswith("(all)"), counts

    registry = tmp_path / "registry"
    assert eventkit("schema", "publish", str(old), "--registry", str(registry)).returncode == 0
    refused = eventkit("schema", "publish", str(new), "--registry", str(registry), "--dry-run")
    assert refused.returncode == 1, refused.stdout
    assert "1-1-0 is declared a REVISION of 1-0-0; the change is MODEL" in refused.stdout
    model = _write(tmp_path / "2-0-0.json", {**new_schema, "self": {**new_schema["self"], "version": "2-0-0"}})
    accepted = eventkit("schema", "publish", str(model), "--registry", str(registry), "--dry-run")
    assert accepted.returncode == 0 and "would-create" in accepted.stdout, accepted.stdout


def test_a_required_property_an_open_schema_allowed_is_a_revision(tmp_path: Path) -> None:
    """With undeclared properties allowed, old events carrying the new property survive: a REVISION, 1-1-0."""
    old = _write(tmp_path / "1-0-0.json", _schema("1-0-0", {"id": _ID}, ["id"], additional=True))
    new = _write(
        tmp_path / "1-1-0.json", _schema("1-1-0", {"id": _ID, "label": _LABEL}, ["id", "label"], additional=True)
    )
    result = eventkit("schema", "diff", "--json", str(old), str(new))
    body = orjson.loads(result.stdout)
    assert body["verdict"] == "REVISION" and body["kept"] and body["counterexamples"]
    assert 0 < body["instancesRejected"] < body["instancesTested"]
    registry = tmp_path / "registry"
    assert eventkit("schema", "publish", str(old), "--registry", str(registry)).returncode == 0
    published = eventkit("schema", "publish", str(new), "--registry", str(registry))
    assert published.returncode == 0 and "created iglu:com.acme/click/jsonschema/1-1-0" in published.stdout


def _one_line_naming(result: subprocess.CompletedProcess[str], file: Path, problem: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(file) in lines[0] and problem in lines[0], result.stderr


def test_user_mistakes_print_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A broken or missing schema file gives one line naming it (exit 2); --debug shows the traceback."""
    broken = _write(tmp_path / "broken.json", b'{"type": "object",')
    good = _write(tmp_path / "x.json", _schema("1-0-0", {"id": _ID}, ["id"]))
    listed = _write(tmp_path / "list.json", b"[1, 2]")
    nope = tmp_path / "nope.json"
    _one_line_naming(eventkit("schema", "diff", str(broken), str(good)), broken, "not valid JSON")
    _one_line_naming(eventkit("schema", "diff", str(good), str(broken)), broken, "not valid JSON")
    _one_line_naming(eventkit("schema", "diff", str(nope), str(good)), nope, "no such file")
    _one_line_naming(eventkit("schema", "diff", str(listed), str(good)), listed, "not an object")
    _one_line_naming(eventkit("schema", "check", str(broken), "--lake", str(tmp_path)), broken, "not valid JSON")
    debug = eventkit("--debug", "schema", "diff", str(nope), str(good))
    assert debug.returncode != 0 and "Traceback" in debug.stderr + debug.stdout and "FileNotFoundError" in debug.stderr


CLICK = "iglu:com.acme/click/jsonschema/1-0-0"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


def _good_events(lake: Path, name: str, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Parquet of good events (event_id, event_fingerprint, unstruct data of com.acme/click 1-0-0) an hour ago."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    when = datetime.now(UTC) - timedelta(hours=1)
    folder = lake / f"good/date={when:%Y-%m-%d}/hour={when:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "event_id": [e for e, _, _ in events],
            "event_fingerprint": [f for _, f, _ in events],
            "unstruct_event": [
                orjson.dumps({"schema": UE, "data": {"schema": CLICK, "data": d}}).decode() for *_, d in events
            ],
            "contexts": [None] * len(events),
            "collector_tstamp": pa.array([when] * len(events), pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, folder / name)


def _bad_rows(lake: Path, rows: list[tuple[str, dict[str, Any], str]]) -> list[bytes]:
    """schema_violations rows (eid, click data, failed schema key) an hour ago; returns the lines written."""
    when = datetime.now(UTC) - timedelta(hours=1)
    folder = lake / f"bad/schema_violations/date={when:%Y-%m-%d}/hour={when:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for eid, data, failed in rows:
        ue = orjson.dumps({"schema": UE, "data": {"schema": failed, "data": data}}).decode()
        row = {
            "schema": "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0",
            "data": {
                "failure": {"timestamp": when.isoformat(), "messages": [{"schemaKey": failed, "error": {}}]},
                "payload": {"raw": {"parameters": [{"name": "eid", "value": eid}, {"name": "ue_pr", "value": ue}]}},
            },
        }
        lines.append(orjson.dumps(row))
    (folder / "part-0.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return lines


def test_check_counts_each_event_once_and_gates_new_failures(tmp_path: Path) -> None:
    """Redelivered and re-replayed events count once; a newly failing event exits 1 unless allowed."""
    lake = tmp_path / "lake"
    ok = {"id": "a"}
    too_long = {"id": "x" * 15}
    _good_events(lake, "part-0.parquet", [("e1", "f1", ok), ("e2", "f2", too_long)])
    _good_events(lake, "part-1.parquet", [("e1", "f1", ok), ("e2", "f2", too_long)])  # redelivered copies
    candidate = _write(tmp_path / "1-0-1.json", _schema("1-0-1", {"id": {"type": "string", "maxLength": 10}}, ["id"]))
    gated = eventkit("schema", "check", str(candidate), "--lake", str(lake), "--json")
    assert gated.returncode == 1, gated.stderr
    good = orjson.loads(gated.stdout)["good"]
    assert (good["entitiesChecked"], good["wouldPass"], good["wouldNewlyFail"]) == (2, 1, 1)
    assert good["duplicatesSkipped"] == 2
    assert "1 recent event(s) would newly fail" in gated.stderr
    allowed = eventkit("schema", "check", str(candidate), "--lake", str(lake), "--allow-new-failures")
    assert allowed.returncode == 0 and "would newly fail 1" in allowed.stdout


def test_check_claims_only_fixes_it_can_make(tmp_path: Path) -> None:
    """Replayed rows, repeats of an event and rows of another MODEL are never counted as fixed."""
    lake = tmp_path / "lake"
    long_id = {"id": "y" * 30}
    lines = _bad_rows(
        lake,
        [
            ("e1", long_id, CLICK),  # fixable by a 1-0-1 that allows 40 characters
            ("e1", long_id, CLICK),  # the same event failing again (redelivery): counted once
            ("e2", long_id, CLICK),  # already replayed (in the manifest): not counted
            ("e3", long_id, "iglu:com.acme/click/jsonschema/2-0-0"),  # another MODEL: cannot be fixed by 1-0-1
        ],
    )
    manifest = lake / "replayed" / "run-1.jsonl"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(orjson.dumps({"row_id": hashlib.sha256(lines[2].strip()).hexdigest(), "outcome": "sent"}))
    candidate = _write(tmp_path / "1-0-1.json", _schema("1-0-1", {"id": {"type": "string", "maxLength": 40}}, ["id"]))
    result = eventkit("schema", "check", str(candidate), "--lake", str(lake), "--json")
    assert result.returncode == 0, result.stderr
    bad = orjson.loads(result.stdout)["bad"]
    assert bad == {
        "rowsChecked": 1,
        "wouldFix": 1,
        "stillFailing": 0,
        "alreadyReplayed": 1,
        "duplicatesSkipped": 1,
        "otherModel": 1,
    }
    human = eventkit("schema", "check", str(candidate), "--lake", str(lake))
    assert "would fix 1" in human.stdout and "1 already replayed" in human.stdout and "another MODEL" in human.stdout


def test_check_refuses_an_invalid_candidate(tmp_path: Path) -> None:
    """A candidate that is not a valid JSON Schema ("type": "objekt") is refused in one line, exit 2."""
    lake = tmp_path / "lake"
    _good_events(lake, "part-0.parquet", [("e1", "f1", {"id": "a"})])
    schema = _schema("1-0-1", {"id": _ID}, ["id"])
    schema["type"] = "objekt"
    candidate = _write(tmp_path / "objekt.json", schema)
    result = eventkit("schema", "check", str(candidate), "--lake", str(lake))
    _one_line_naming(result, candidate, "not a valid schema")
    assert "/type" in result.stderr and result.stdout == ""


def test_registry_url_without_api_says_what_was_expected(tmp_path: Path) -> None:
    """`--registry http://host:port` (no /api) is refused up front, naming the URL to use; nothing is written."""
    store = open_store(tmp_path / "served")
    schema = _write(tmp_path / "1-0-0.json", _schema("1-0-0", {"id": _ID}, ["id"]))
    with running(create_app(store, master_key=MASTER)) as base:
        for extra in ([], ["--dry-run"]):
            result = eventkit("schema", "publish", str(schema), "--registry", base, "--api-key", MASTER, *extra)
            assert result.returncode == 2, (result.stdout, result.stderr)
            assert "not an Iglu Server API" in result.stderr and f"{base}/api" in result.stderr
            assert "HTTP 404: \n" not in result.stdout + "\n"
        published = eventkit("schema", "publish", str(schema), "--registry", f"{base}/api", "--api-key", MASTER)
        assert published.returncode == 0, published.stdout
    assert store.list_keys() == [SchemaKey.parse(CLICK)]


def test_republishing_the_same_schema_is_a_no_op(tmp_path: Path) -> None:
    """A CI re-run publishing the same file exits 0 (`unchanged`), to a folder and over HTTP; a changed body exits 1."""
    schema = _schema("1-0-0", {"id": _ID}, ["id"])
    same = _write(tmp_path / "1-0-0.json", schema)
    changed = _write(tmp_path / "changed.json", {**schema, "description": "A changed click"})
    folder = tmp_path / "registry"
    store = open_store(tmp_path / "served")
    with running(create_app(store, master_key=MASTER)) as base:
        for registry in (str(folder), f"{base}/api"):
            assert eventkit("schema", "publish", str(same), "--registry", registry, "--api-key", MASTER).returncode == 0
            again = eventkit("schema", "publish", str(same), "--registry", registry, "--api-key", MASTER)
            assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout
            dry = eventkit("schema", "publish", str(same), "--registry", registry, "--api-key", MASTER, "--dry-run")
            assert dry.returncode == 0 and "unchanged" in dry.stdout, dry.stdout
            refused = eventkit("schema", "publish", str(changed), "--registry", registry, "--api-key", MASTER)
            assert refused.returncode == 1 and "already exists" in refused.stdout, refused.stdout
    stored = open_store(folder).get(SchemaKey.parse(CLICK))
    assert stored is not None and stored["description"] == "A button click"


def test_published_and_hand_copied_schemas_are_public_by_default(tmp_path: Path) -> None:
    """Publishing next to hand-copied schemas works (both public); --private is the explicit opt-out."""
    folder = tmp_path / "registry"
    copied = folder / "com.acme/click/jsonschema/1-0-0"
    copied.parent.mkdir(parents=True)
    copied.write_bytes(orjson.dumps(_schema("1-0-0", {"id": _ID}, ["id"])))
    addition = _write(tmp_path / "1-0-1.json", _schema("1-0-1", {"id": _ID, "label": _LABEL}, ["id"]))
    result = eventkit("schema", "publish", str(addition), "--registry", str(folder))
    assert result.returncode == 0, result.stdout
    store = open_store(folder)
    assert [store.meta(k).is_public for k in store.list_keys()] == [True, True]
    other = _schema("1-0-0", {"id": _ID}, ["id"])
    other["self"]["name"] = "secret"
    private = eventkit(
        "schema", "publish", str(_write(tmp_path / "s.json", other)), "--registry", str(folder), "--private"
    )
    assert private.returncode == 0, private.stdout
    assert open_store(folder).meta(SchemaKey.parse("iglu:com.acme/secret/jsonschema/1-0-0")).is_public is False


CASES = Path(__file__).resolve().parents[1] / "cases"
IGLU_CENTRAL_CI_SKIPS = "optionalNull,description,numericMinMax,stringLength,stringMaxLengthRange,rootObject"


def test_iglu_central_lints_as_igluctl_lints_it_in_its_ci(tmp_path: Path) -> None:
    """Iglu Central's jsonschema, avro, protobuf and thrift schemas together lint with exit 0 under its CI skips."""
    folder = tmp_path / "schemas"
    shutil.copytree(CASES / "iglu-central" / "schemas", folder)
    shutil.copytree(CASES / "iglu-central" / "non-jsonschema", folder, dirs_exist_ok=True)
    result = eventkit("schema", "lint", str(folder), "--skip-checks", IGLU_CENTRAL_CI_SKIPS)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.splitlines()[-1].split(": ")[1].startswith("0 error(s)")
    avro = [line for line in result.stdout.splitlines() if "/avro/" in line]
    assert len(avro) == 16 and all("INFO notJsonSchema" in line and "'avro' is not linted" in line for line in avro)
    assert sum("/protobuf/" in line and "INFO notJsonSchema" in line for line in result.stdout.splitlines()) == 1
