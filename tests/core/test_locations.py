"""Every accepted and refused form of the queue, lake and warehouse URLs; refusals name the key and the forms."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.locations import (
    BUNDLED_SCHEMAS,
    LakeLocation,
    QueueLocation,
    WarehouseLocation,
    parse_lake_url,
    parse_queue_url,
    parse_warehouse_url,
)

# ---- queue -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///srv/q/queue.db", QueueLocation("sqlite", "sqlite:///srv/q/queue.db", path=Path("/srv/q/queue.db"))),
        (
            "sqlite:///srv/queue.db?topic=bad",
            QueueLocation("sqlite", "sqlite:///srv/queue.db?topic=bad", path=Path("/srv/queue.db"), topic="bad"),
        ),
        (
            "sqlite:///q.db?topic=t&subscription=s",
            QueueLocation(
                "sqlite", "sqlite:///q.db?topic=t&subscription=s", path=Path("/q.db"), topic="t", subscription="s"
            ),
        ),
        ("pubsub://proj/raw", QueueLocation("pubsub", "pubsub://proj/raw", project="proj", topic="raw")),
        (
            "pubsub://proj/raw?subscription=enrich",
            QueueLocation(
                "pubsub", "pubsub://proj/raw?subscription=enrich", project="proj", topic="raw", subscription="enrich"
            ),
        ),
        ("pubsub://proj/raw/", QueueLocation("pubsub", "pubsub://proj/raw/", project="proj", topic="raw")),
    ],
)
def test_accepted_queue_urls(url: str, expected: QueueLocation) -> None:
    """sqlite:///abs/path[?topic=&subscription=] and pubsub://PROJECT/TOPIC[?subscription=] parse to their parts."""
    assert parse_queue_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "queue.db",  # a plain path is not a queue URL
        "/abs/queue.db",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/queue.db",  # relative-looking / remote: ambiguous
        "pubsub://",
        "pubsub://proj",
        "pubsub://proj/",
        "pubsub:///topic",
        "pubsub://proj/a/b",
        "pubsub://proj/raw?subscripton=typo",
        "pubsub://proj/raw?topic=other",
        "sqlite:///q.db?bogus=1",
        "kafka://broker/topic",
        "http://[::1/queue",
    ],
)
def test_refused_queue_urls_name_the_key_and_forms(url: str) -> None:
    """Anything else is a ConfigError that names the key and lists the accepted queue forms."""
    with pytest.raises(ConfigError, match=r"^collector\.raw: .*accepted forms: sqlite:///path/queue\.db"):
        parse_queue_url(url, key="collector.raw")


# ---- lake --------------------------------------------------------------------------------------


def test_accepted_lake_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """file:///abs, file://localhost/abs, percent-encoded file URLs, plain and relative paths, gs://BUCKET[/PREFIX]."""
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert parse_lake_url("file:///srv/lake") == LakeLocation("file", "file:///srv/lake", path=Path("/srv/lake"))
    assert parse_lake_url("file://localhost/srv/lake").path == Path("/srv/lake")
    assert parse_lake_url("file:///srv/my%20lake").path == Path("/srv/my lake")
    spaced = here / "a lake"
    assert parse_lake_url(spaced.as_uri()).path == spaced
    assert parse_lake_url("/srv/lake").path == Path("/srv/lake")
    assert parse_lake_url("data/lake").path == here / "data" / "lake"
    assert parse_lake_url("./data/../lake").path == here / "lake"
    assert parse_lake_url("C:/lake").kind == "file"  # a Windows drive letter is a path, not a scheme
    assert parse_lake_url("gs://bucket") == LakeLocation("gs", "gs://bucket", bucket="bucket", prefix="")
    assert parse_lake_url("gs://my-bucket.example/a/b/").prefix == "a/b"
    assert parse_lake_url("gs://b_1/lake").bucket == "b_1"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "gs://",
        "gs:///prefix",
        "gs://Upper/x",  # bucket names are lowercase
        "gs://ab/x",  # too short
        "gs://bucket/a//b",
        "gs://bucket/a/../b",
        "gs://bucket/./a",
        "file://remote-host/lake",
        "s3://bucket/lake",
        "http://host/lake",
        "http://[::1/lake",
    ],
)
def test_refused_lake_urls_name_the_key_and_forms(url: str) -> None:
    """Other schemes, remote file hosts, bad bucket names and bad prefixes are ConfigErrors naming key and forms."""
    with pytest.raises(ConfigError, match=r"^enrich\.lake: .*accepted forms: file:///path/lake, a plain path, gs://"):
        parse_lake_url(url, key="enrich.lake")


# ---- warehouse ---------------------------------------------------------------------------------


def test_accepted_warehouse_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """duckdb:///abs/path and a plain path ending in .duckdb (resolved against the working directory)."""
    monkeypatch.chdir(tmp_path)
    assert parse_warehouse_url("duckdb:///srv/w.duckdb") == WarehouseLocation(
        "duckdb", "duckdb:///srv/w.duckdb", Path("/srv/w.duckdb")
    )
    assert parse_warehouse_url("/srv/w.duckdb").path == Path("/srv/w.duckdb")
    assert parse_warehouse_url("w.duckdb").path == tmp_path.resolve() / "w.duckdb"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "w.db",
        "/srv/warehouse",
        "duckdb://",
        "duckdb://host/w.duckdb",
        "bigquery://x/ds",
        "bigquery://my-project",
        "duckdb://[x",
    ],
)
def test_refused_warehouse_urls_name_the_key_and_forms(url: str) -> None:
    """Anything else is a ConfigError naming the key and the accepted warehouse forms."""
    with pytest.raises(ConfigError, match=r"^loader\.warehouse: .*accepted forms: duckdb:///path/warehouse\.duckdb"):
        parse_warehouse_url(url, key="loader.warehouse")


def test_default_keys_appear_in_messages() -> None:
    """Without a key, messages still start with a generic one (queue / lake / warehouse)."""
    for parse, name in ((parse_queue_url, "queue"), (parse_lake_url, "lake"), (parse_warehouse_url, "warehouse")):
        with pytest.raises(ConfigError, match=f"^{name}: "):
            parse("nope://x")


def test_bundled_schemas_is_the_repository_registry() -> None:
    """BUNDLED_SCHEMAS points at the schemas/ folder shipped beside the packages."""
    assert BUNDLED_SCHEMAS.is_dir()
    assert (BUNDLED_SCHEMAS / "com.snowplowanalytics.snowplow").is_dir()


@given(st.text(max_size=60))
def test_any_string_parses_or_is_a_config_error(url: str) -> None:
    """No input makes a parser fail with anything but ConfigError (no stray ValueError from urlsplit)."""
    for parse in (parse_queue_url, parse_lake_url, parse_warehouse_url):
        try:
            parse(url, key="k")
        except ConfigError as e:
            assert str(e).startswith("k: ")


@given(
    st.from_regex(r"[a-z][a-z0-9-]{4,20}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{2,30}", fullmatch=True),
    st.none() | st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{2,30}", fullmatch=True),
)
def test_pubsub_urls_round_trip(project: str, topic: str, subscription: str | None) -> None:
    """Any project/topic/subscription written as a pubsub URL parses back to the same parts."""
    url = f"pubsub://{project}/{topic}" + (f"?subscription={subscription}" if subscription else "")
    location = parse_queue_url(url)
    assert (location.project, location.topic, location.subscription) == (project, topic, subscription)
