"""`eventkit schema lint|diff|publish|check` and `eventkit registry serve`, through the real CLI root."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import httpx
import orjson
from typer.testing import CliRunner

from core.cli import app
from registry.api import create_app
from registry.store import open_store
from tests.registry.registry_server import running

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "tests" / "cases" / "compat"
LINT = ROOT / "tests" / "cases" / "lint"
MASTER = "0f4b3c57-6c1d-4a44-9d2e-1d5f7b0e8c11"
runner = CliRunner()


def _write(folder: Path, schema: dict[str, Any]) -> Path:
    s = schema["self"]
    path = folder / s["vendor"] / s["name"] / s["format"] / s["version"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(schema))
    return path


def _case(name: str, version: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = orjson.loads((COMPAT / name).read_bytes())
    if version:
        schema = copy.deepcopy(schema)
        schema["self"]["version"] = version
    return schema


def test_lint_repo_schemas_exit_zero() -> None:
    """`eventkit schema lint schemas` passes on the bundled registry."""
    result = runner.invoke(app, ["schema", "lint", str(ROOT / "schemas")])
    assert result.exit_code == 0, result.output
    assert " 0 error(s)" in result.output


def test_lint_errors_exit_one_with_json(tmp_path: Path) -> None:
    """An ERROR finding exits 1; --json reports files, findings and a summary."""
    result = runner.invoke(app, ["schema", "lint", "--json", str(LINT / "stringMinMaxLength.json")])
    assert result.exit_code == 1
    body = orjson.loads(result.output)
    assert body["summary"]["errors"] >= 1
    findings = next(iter(body["files"].values()))
    assert any(f["check"] == "stringMinMaxLength" and f["level"] == "ERROR" for f in findings)


def test_lint_reports_gaps_and_path_mismatch(tmp_path: Path) -> None:
    """A folder with 1-0-0 and 1-0-2, one of them filed under the wrong path, fails with both findings."""
    _write(tmp_path, _case("checkout-1-0-0.json"))
    _write(tmp_path, _case("checkout-addition.json", "1-0-2"))
    wrong = tmp_path / "com.acme/checkout/jsonschema/2-0-0"
    wrong.write_bytes(orjson.dumps(_case("checkout-1-0-0.json")))
    result = runner.invoke(app, ["schema", "lint", str(tmp_path)])
    assert result.exit_code == 1
    assert "versionGaps" in result.output and "selfPath" in result.output


def test_skip_checks(tmp_path: Path) -> None:
    """--skip-checks drops a warning; naming an ERROR check or an unknown one exits 2."""
    target = str(LINT / "stringLength.json")
    assert "stringLength" in runner.invoke(app, ["schema", "lint", target]).output
    skipped = runner.invoke(app, ["schema", "lint", "--skip-checks", "stringLength,description", target])
    assert skipped.exit_code == 0 and "stringLength" not in skipped.output
    assert runner.invoke(app, ["schema", "lint", "--skip-checks", "schemaUri", target]).exit_code == 2
    assert runner.invoke(app, ["schema", "lint", "--skip-checks", "nope", target]).exit_code == 2


def test_diff_prints_changes_and_verdict() -> None:
    """`schema diff` lists each change and the verdict."""
    result = runner.invoke(
        app, ["schema", "diff", str(COMPAT / "checkout-1-0-0.json"), str(COMPAT / "checkout-tightened.json")]
    )
    assert result.exit_code == 0
    assert "maxLength lowered 100 → 50" in result.output
    assert "verdict: MODEL" in result.output
    as_json = runner.invoke(
        app, ["schema", "diff", "--json", str(COMPAT / "checkout-1-0-0.json"), str(COMPAT / "checkout-addition.json")]
    )
    assert orjson.loads(as_json.output)["verdict"] == "ADDITION"


def test_publish_to_a_folder(tmp_path: Path) -> None:
    """Local publish: 1-0-0 created, tightened 1-0-1 refused naming the changes (exit 1), the same as 2-0-0 created."""
    registry = tmp_path / "registry"
    first = runner.invoke(app, ["schema", "publish", str(COMPAT / "checkout-1-0-0.json"), "--registry", str(registry)])
    assert first.exit_code == 0 and "created iglu:com.acme/checkout/jsonschema/1-0-0" in first.output
    refused = runner.invoke(
        app, ["schema", "publish", str(COMPAT / "checkout-tightened.json"), "--registry", str(registry)]
    )
    assert refused.exit_code == 1
    for change in ("added to required", "type narrowed", "maxLength lowered 100 → 50"):
        assert change in refused.output
    model = tmp_path / "model.json"
    model.write_bytes(orjson.dumps(_case("checkout-tightened.json", "2-0-0")))
    accepted = runner.invoke(app, ["schema", "publish", str(model), "--registry", str(registry)])
    assert accepted.exit_code == 0, accepted.output
    assert sorted(k.uri for k in open_store(registry).list_keys())[-1].endswith("2-0-0")


def test_publish_orders_files_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    """Files are published in version order whatever the command line order; --dry-run leaves the folder empty."""
    files = [COMPAT / "checkout-addition.json", COMPAT / "checkout-1-0-0.json"]
    dry = runner.invoke(app, ["schema", "publish", *map(str, files), "--registry", str(tmp_path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would-create" in dry.output and open_store(tmp_path).list_keys() == []
    real = runner.invoke(app, ["schema", "publish", *map(str, files), "--registry", str(tmp_path)])
    assert real.exit_code == 0 and len(open_store(tmp_path).list_keys()) == 2


def test_publish_over_http(tmp_path: Path) -> None:
    """Against a running API: a write key publishes, a read key is refused (403), dry-run mirrors and writes nothing."""
    store = open_store(tmp_path / "served")
    with running(create_app(store, master_key=MASTER)) as base:
        pair = httpx.post(
            f"{base}/api/auth/keygen", json={"vendorPrefix": "com.acme"}, headers={"apikey": MASTER}
        ).json()
        api = f"{base}/api"
        first = COMPAT / "checkout-1-0-0.json"
        denied = runner.invoke(app, ["schema", "publish", str(first), "--registry", api, "--api-key", pair["read"]])
        assert denied.exit_code == 1 and "HTTP 403" in denied.output
        ok = runner.invoke(app, ["schema", "publish", str(first), "--registry", api, "--api-key", pair["write"]])
        assert ok.exit_code == 0 and "HTTP 201" in ok.output
        dry = runner.invoke(
            app,
            [
                "schema",
                "publish",
                str(COMPAT / "checkout-tightened.json"),
                "--registry",
                api,
                "--api-key",
                pair["write"],
                "--dry-run",
            ],
        )
        assert dry.exit_code == 1 and "maxLength lowered 100 → 50" in dry.output
        assert len(store.list_keys()) == 1


def test_check_command(tmp_path: Path) -> None:
    """`schema check` on an empty lake prints a zero report; --json is machine-readable."""
    result = runner.invoke(
        app, ["schema", "check", str(COMPAT / "checkout-1-0-0.json"), "--lake", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["good"]["entitiesChecked"] == 0
    bad = runner.invoke(
        app, ["schema", "check", str(COMPAT / "checkout-1-0-0.json"), "--lake", str(tmp_path), "--since", "soon"]
    )
    assert bad.exit_code == 2


def test_registry_serve_is_a_group_command() -> None:
    """`eventkit registry serve --help` exists (the app stays a group with one command)."""
    result = runner.invoke(app, ["registry", "serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--master-key" in result.output


def test_lint_copies_of_iglu_central_in_tests(tmp_path: Path) -> None:
    """The iglu-central test material lints clean from a copied folder too (exit 0)."""
    source = ROOT / "tests" / "cases" / "iglu-central" / "schemas"
    shutil.copytree(source, tmp_path / "schemas")
    result = runner.invoke(app, ["schema", "lint", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output[-2000:]


def test_compatibility_command_changes_what_publish_accepts(tmp_path: Path) -> None:
    """Setting com.acme to NONE lets the tightened ADDITION through; an unknown mode exits 2."""
    registry = str(tmp_path)
    runner.invoke(app, ["schema", "publish", str(COMPAT / "checkout-1-0-0.json"), "--registry", registry])
    assert (
        runner.invoke(app, ["schema", "compatibility", "com.acme", "sideways", "--registry", registry]).exit_code == 2
    )
    assert runner.invoke(app, ["schema", "compatibility", "com.acme", "none", "--registry", registry]).exit_code == 0
    tightened = runner.invoke(
        app, ["schema", "publish", str(COMPAT / "checkout-tightened.json"), "--registry", registry]
    )
    assert tightened.exit_code == 0, tightened.output
