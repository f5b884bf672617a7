"""The registry `eventkit up` records in its data folder, and which registry a command then chooses."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from core.errors import ConfigError
from core.locations import BUNDLED_SCHEMAS
from core.recorded_registry import RECORD_FILE, choose_registry, record_registry, recorded_registry


def test_record_makes_local_paths_absolute_and_keeps_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`./schemas,https://iglu.acme.com/api` is recorded as an absolute folder and the URL unchanged."""
    monkeypatch.chdir(tmp_path)
    record_registry(tmp_path, "./schemas, https://iglu.acme.com/api")
    assert recorded_registry(tmp_path) == f"{tmp_path / 'schemas'},https://iglu.acme.com/api"
    record = orjson.loads((tmp_path / RECORD_FILE).read_bytes())
    assert record["recorded_by"] == "eventkit up"


def test_record_keeps_other_keys_of_the_file(tmp_path: Path) -> None:
    """Recording again replaces the registry and leaves whatever else the file holds."""
    (tmp_path / RECORD_FILE).write_bytes(orjson.dumps({"layout": 1, "registry": "/old"}))
    record_registry(tmp_path, "/new")
    record = orjson.loads((tmp_path / RECORD_FILE).read_bytes())
    assert (record["layout"], record["registry"]) == (1, "/new")


def test_no_record_is_none(tmp_path: Path) -> None:
    """A data folder `eventkit up` never ran on has no recorded registry."""
    assert recorded_registry(tmp_path) is None


@pytest.mark.parametrize("content", [b"{not json", b"[1]", b'{"registry": 3}', b'{"registry": " "}'])
def test_a_broken_record_is_a_config_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    """A damaged eventkit.json is reported with its path, never guessed around."""
    (tmp_path / RECORD_FILE).write_bytes(content)
    with pytest.raises(ConfigError, match=RECORD_FILE):
        recorded_registry(tmp_path)


def test_choice_order_flag_then_record_then_setting(tmp_path: Path) -> None:
    """--registry wins over the record, the record over the setting; each choice says where it came from."""
    record_registry(tmp_path, "/team/schemas")
    flag = choose_registry("/explicit", tmp_path, str(BUNDLED_SCHEMAS))
    assert flag.describe() == "registry: /explicit (from --registry), then the bundled schemas"
    recorded = choose_registry(None, tmp_path, str(BUNDLED_SCHEMAS))
    assert recorded.location == "/team/schemas"
    assert recorded.describe().startswith(
        f"registry: /team/schemas (recorded by eventkit up in {tmp_path / RECORD_FILE})"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    fallback = choose_registry(None, empty, str(BUNDLED_SCHEMAS.resolve()))
    assert fallback.describe() == (
        f"registry: {BUNDLED_SCHEMAS.resolve()} (the bundled schemas; the enrich.registry setting: "
        f"no registry recorded in {empty / RECORD_FILE})"
    )
