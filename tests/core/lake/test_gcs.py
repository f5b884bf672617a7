"""What only the GCS lake must prove itself, against fake-gcs-server: emulator wiring, lost answers, outages."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from core.errors import ConfigError, LakeUnavailable, ObjectExists
from core.lake import local_path, open_lake
from core.lake.gcs import GcsLake, default_client
from tests.services.gcs import FakeGcs

pytestmark = pytest.mark.gcs


class LoseAnswers(requests.Session):
    """Fault injection over the real emulator: upload requests reach the server, but their answers are lost.

    A mock of the network only (nothing real can drop a response on demand); the server is real.
    """

    def __init__(self, answers_to_lose: int) -> None:
        super().__init__()
        self.answers_to_lose = answers_to_lose
        self.uploads = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if method == "POST" and "uploadType" in str(url):
            self.uploads += 1
            if self.answers_to_lose > 0:
                self.answers_to_lose -= 1
                raise requests.ConnectionError("connection reset after the request was sent")
        return response


def _client(emulator: FakeGcs, session: requests.Session | None = None) -> storage.Client:
    return storage.Client(
        project="eventkit-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator.url},
        _http=session,
    )


def test_default_client_follows_storage_emulator_host(gcs_emulator: FakeGcs, gcs_bucket: str) -> None:
    """With STORAGE_EMULATOR_HOST set by the session fixture, a lake built without a client writes to the emulator."""
    assert os.environ["STORAGE_EMULATOR_HOST"] == gcs_emulator.url
    GcsLake(gcs_bucket, "p").create("x.jsonl", b"hello")
    assert gcs_emulator.client().bucket(gcs_bucket).blob("p/x.jsonl").download_as_bytes() == b"hello"
    assert default_client().project == "eventkit-local"


def test_objects_live_under_the_lake_prefix(gcs_emulator: FakeGcs, gcs_bucket: str) -> None:
    """Objects are stored at PREFIX/name and a lake never lists objects outside its prefix (even `PREFIXed/`)."""
    client = gcs_emulator.client()
    bucket = client.bucket(gcs_bucket)
    bucket.blob("tenant/lakehouse/other").upload_from_string(b"not ours")
    bucket.blob("elsewhere").upload_from_string(b"not ours")
    lake = GcsLake(gcs_bucket, "/tenant/lake/", client=client)
    lake.create("good/a", b"ours")
    assert lake.url == f"gs://{gcs_bucket}/tenant/lake"
    assert bucket.blob("tenant/lake/good/a").download_as_bytes() == b"ours"
    assert list(lake.list()) == ["good/a"]
    bare = GcsLake(gcs_bucket, client=client)
    assert list(bare.list("tenant/lake/")) == ["tenant/lake/good/a"]


def test_folder_placeholders_are_not_objects(gcs_emulator: FakeGcs, gcs_bucket: str) -> None:
    """Zero-byte `name/` placeholders that consoles create are not listed as lake objects."""
    gcs_emulator.client().bucket(gcs_bucket).blob("p/good/").upload_from_string(b"")
    lake = GcsLake(gcs_bucket, "p")
    lake.create("good/x", b"1")
    assert list(lake.list()) == ["good/x"]


def test_lost_answer_after_a_landed_write_is_success(gcs_emulator: FakeGcs, gcs_bucket: str) -> None:
    """If the answer to a landed upload is lost, the retry's 412 finds our own bytes and create succeeds."""
    session = LoseAnswers(answers_to_lose=1)
    lake = GcsLake(gcs_bucket, "p", client=_client(gcs_emulator, session), timeout=10)
    lake.create("good/x", b"ours")
    assert session.uploads == 2
    assert lake.read("good/x") == b"ours"


def test_lost_answer_then_someone_elses_bytes_is_object_exists(gcs_emulator: FakeGcs, gcs_bucket: str) -> None:
    """A retry that meets 412 over different bytes is a real name clash: ObjectExists, the stored object unchanged."""
    GcsLake(gcs_bucket, "p").create("good/x", b"theirs")
    session = LoseAnswers(answers_to_lose=0)
    lake = GcsLake(gcs_bucket, "p", client=_client(gcs_emulator, session), timeout=10)
    with pytest.raises(ObjectExists):
        lake.create("good/x", b"ours")
    assert lake.read("good/x") == b"theirs"


def test_unreachable_gcs_is_lake_unavailable_within_the_timeout(gcs_emulator: FakeGcs) -> None:
    """Against a closed port every operation fails with LakeUnavailable, bounded by the lake's timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    client = storage.Client(
        project="eventkit-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": f"http://127.0.0.1:{closed}"},
    )
    lake = GcsLake("bucket", "p", client=client, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(LakeUnavailable):
        lake.create("x", b"1")
    with pytest.raises(LakeUnavailable):
        lake.read("x")
    with pytest.raises(LakeUnavailable):
        list(lake.list())
    with pytest.raises(LakeUnavailable):
        lake.exists("x")
    assert time.monotonic() - started < 20


def test_missing_bucket_is_one_config_error_unless_created(gcs_emulator: FakeGcs) -> None:
    """A lake on a bucket that does not exist is a ConfigError naming it; `create_bucket_if_missing` makes it."""
    name = f"missing-{os.getpid()}-{time.monotonic_ns()}"
    with pytest.raises(ConfigError, match=f"bucket '{name}' does not exist \\(create it, or pass --create-bucket"):
        GcsLake(name, "p", timeout=5)
    lake = GcsLake(name, "p", create_bucket_if_missing=True)
    GcsLake(name, "p", create_bucket_if_missing=True)  # idempotent
    lake.create("x", b"1")
    assert lake.read("x") == b"1"


def test_a_bucket_deleted_while_running_is_named_in_the_failure(gcs_emulator: FakeGcs) -> None:
    """If the bucket disappears after the lake was opened, writes and lists fail saying the bucket does not exist."""
    name = gcs_emulator.create_bucket("gone")
    lake = GcsLake(name, "p", timeout=5)
    gcs_emulator.client().bucket(name).delete()
    with pytest.raises(LakeUnavailable, match=f"bucket '{name}' does not exist"):
        lake.create("x", b"1")
    with pytest.raises(LakeUnavailable, match=f"bucket '{name}' does not exist"):
        list(lake.list("good/"))


def test_open_lake_builds_a_gcs_lake_from_a_gs_url(gcs_bucket: str) -> None:
    """`open_lake("gs://BUCKET/PREFIX")` gives a GCS lake on that bucket and prefix, with no local paths."""
    lake = open_lake(f"gs://{gcs_bucket}/a/b")
    assert isinstance(lake, GcsLake)
    assert (lake.bucket_name, lake.prefix, lake.url) == (gcs_bucket, "a/b", f"gs://{gcs_bucket}/a/b")
    lake.create("x", b"1")
    assert list(open_lake(f"gs://{gcs_bucket}").list()) == ["a/b/x"]
    assert local_path(lake, "x") is None
