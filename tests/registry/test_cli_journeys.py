"""The schema publisher's journeys through the real `eventkit` entry point in a subprocess: exit codes and output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

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
