"""`open_lake` turns each accepted lake URL form into the right lake, and refuses the rest naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.lake import LocalLake, open_lake


@pytest.mark.parametrize("form", ["file", "plain", "localhost"])
def test_file_forms_open_a_local_lake(tmp_path: Path, form: str) -> None:
    """`file:///abs`, `file://localhost/abs` and a plain path all open the same local folder."""
    url = {"file": tmp_path.as_uri(), "plain": str(tmp_path), "localhost": f"file://localhost{tmp_path}"}[form]
    lake = open_lake(url)
    assert isinstance(lake, LocalLake)
    assert lake.root == tmp_path.resolve()
    assert lake.url == url
    lake.create("x", b"1")
    assert (tmp_path / "x").read_bytes() == b"1"


def test_relative_plain_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path (`./data/lake`) opens that folder under the current directory."""
    monkeypatch.chdir(tmp_path)
    lake = open_lake("./data/lake")
    assert isinstance(lake, LocalLake)
    assert lake.root == tmp_path.resolve() / "data" / "lake"


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "gs://", "file://remote-host/x", ""])
def test_other_urls_fail_naming_the_key_and_the_forms(url: str) -> None:
    """An unsupported lake URL is a ConfigError naming the setting and listing the accepted forms."""
    with pytest.raises(ConfigError, match=r"enrich\.lake: .*accepted forms: file:///path/lake"):
        open_lake(url, key="enrich.lake")
