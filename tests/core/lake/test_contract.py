"""The lake contract, proved against every implementation: create-only, complete-or-absent, sorted listing."""

from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ObjectExists
from core.lake import Lake

from .strategies import object_names


def test_create_then_read_returns_identical_bytes(lake: Lake) -> None:
    """What `create` stores, `read` returns byte for byte, and `exists` turns true."""
    data = bytes(range(256)) * 1000
    assert not lake.exists("good/run=1/part-0.parquet")
    lake.create("good/run=1/part-0.parquet", data)
    assert lake.read("good/run=1/part-0.parquet") == data
    assert lake.exists("good/run=1/part-0.parquet")


def test_empty_object_round_trips(lake: Lake) -> None:
    """A zero-byte object is a real object, distinct from an absent one."""
    lake.create("empty.jsonl", b"")
    assert lake.read("empty.jsonl") == b""
    assert lake.exists("empty.jsonl")
    assert list(lake.list()) == ["empty.jsonl"]


def test_create_on_taken_name_raises_and_keeps_original(lake: Lake) -> None:
    """A second create of a name raises ObjectExists and the first object is unchanged."""
    lake.create("bad/schema_violations/a.jsonl", b"first")
    with pytest.raises(ObjectExists):
        lake.create("bad/schema_violations/a.jsonl", b"second")
    with pytest.raises(ObjectExists):
        lake.create("bad/schema_violations/a.jsonl", b"first")
    assert lake.read("bad/schema_violations/a.jsonl") == b"first"


def test_large_objects_are_create_only_too(lake: Lake, request: pytest.FixtureRequest) -> None:
    """Objects over 8 MB (GCS: a resumable upload, not multipart) round-trip and are never overwritten."""
    if "gcs" in request.node.callspec.id:
        # fake-gcs-server drops ifGenerationMatch when finalising resumable uploads (fsouza/fake-gcs-server
        # issue #1967, fixed upstream by PR #2260); real GCS checks it at finalisation. strict: tells us
        # when the bundled emulator is upgraded.
        request.applymarker(
            pytest.mark.xfail(strict=True, reason="emulator ignores preconditions on resumable uploads")
        )
    big = bytes(range(256)) * (9 * 4096)  # 9 MiB
    lake.create("good/big.parquet", big)
    assert lake.read("good/big.parquet") == big
    with pytest.raises(ObjectExists):
        lake.create("good/big.parquet", b"y" * len(big))
    assert lake.read("good/big.parquet") == big


def test_concurrent_creates_of_one_name_have_exactly_one_winner(lake: Lake) -> None:
    """Eight threads racing to create one name: one succeeds, seven get ObjectExists, the winner's bytes stay."""
    contenders = 8
    barrier = threading.Barrier(contenders)
    outcomes: dict[int, str] = {}

    def contend(i: int) -> None:
        barrier.wait()
        try:
            lake.create("good/race.parquet", f"writer {i}".encode() * 1000)
            outcomes[i] = "won"
        except ObjectExists:
            outcomes[i] = "lost"

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == contenders
    assert len(winners) == 1
    assert lake.read("good/race.parquet") == f"writer {winners[0]}".encode() * 1000


def test_list_by_prefix_is_sorted_and_excludes_other_names(lake: Lake) -> None:
    """`list(prefix)` yields exactly the names starting with the prefix, in lexicographic order."""
    names = [
        "good/2024-01-02/b.parquet",
        "good/2024-01-01/z.parquet",
        "good/2024-01-01/a.parquet",
        "goodness/x",
        "bad/size_violation/2024-01-01/a.jsonl",
        "bad/schema_violations/2024-01-01/a.jsonl",
        "top",
    ]
    for name in names:
        lake.create(name, name.encode())
    assert list(lake.list("good/")) == [
        "good/2024-01-01/a.parquet",
        "good/2024-01-01/z.parquet",
        "good/2024-01-02/b.parquet",
    ]
    assert list(lake.list("good/2024-01-0")) == list(lake.list("good/"))
    assert list(lake.list("good")) == [*lake.list("good/"), "goodness/x"]
    assert list(lake.list("bad/s")) == [
        "bad/schema_violations/2024-01-01/a.jsonl",
        "bad/size_violation/2024-01-01/a.jsonl",
    ]
    assert list(lake.list()) == sorted(names)
    assert list(lake.list("nothing/")) == []


def test_read_of_missing_name_raises_file_not_found(lake: Lake) -> None:
    """Reading an absent object raises FileNotFoundError (not LakeUnavailable: the lake answered)."""
    with pytest.raises(FileNotFoundError):
        lake.read("good/absent.parquet")
    lake.create("good/present/x", b"x")
    with pytest.raises(FileNotFoundError):
        lake.read("good/present")  # a "folder" is not an object


@pytest.mark.parametrize("bad", ["", "/abs", "a//b", "a/", "../up", "a/../b", "./a", "a/.hidden", "a\\b", "a\nb"])
def test_invalid_names_are_refused_everywhere(lake: Lake, bad: str) -> None:
    """Every operation refuses a malformed name with ValueError before touching storage."""
    with pytest.raises(ValueError):
        lake.create(bad, b"x")
    with pytest.raises(ValueError):
        lake.read(bad)
    with pytest.raises(ValueError):
        lake.exists(bad)
    if bad not in ("", "a/"):  # these two are valid prefixes ("everything", "the folder a")
        with pytest.raises(ValueError):
            list(lake.list(bad))
    assert list(lake.list()) == []


def test_lake_has_a_url(lake: Lake) -> None:
    """Every lake reports the URL it was opened from (used in logs and error messages)."""
    assert lake.url.startswith(("file://", "gs://"))
    assert isinstance(lake, Lake)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.binary(max_size=4096), names=st.lists(object_names(), min_size=1, max_size=4, unique=True))
def test_arbitrary_bytes_and_valid_names_round_trip(lake: Lake, data: bytes, names: list[str]) -> None:
    """Any bytes stored under any valid names read back identically and list back sorted."""
    run = f"p{uuid.uuid4().hex}/"
    # Names may clash as object vs folder ("a" and "a/b") on a local folder; keep only one of each such pair.
    kept = [n for n in names if not any(o != n and o.startswith(n + "/") for o in names)]
    for i, name in enumerate(kept):
        lake.create(run + name, data + bytes([i % 256]))
    for i, name in enumerate(kept):
        assert lake.read(run + name) == data + bytes([i % 256])
    assert list(lake.list(run)) == sorted(run + n for n in kept)
