"""API keys: vendor-prefix scope, read/write pairs, salted hashes only, master key from configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.keys import KeyRing, prefix_covers
from registry.store import open_store

MASTER = "a-master-key-from-config"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(open_store(tmp_path), MASTER)


@pytest.mark.parametrize(
    ("prefix", "vendor", "covered"),
    [
        ("com.acme", "com.acme", True),
        ("com.acme", "com.acme.sub", True),
        ("com.acme", "com.acmex", False),
        ("com.acme", "com.other", False),
        ("com.acme.sub", "com.acme", False),
        ("*", "anything", True),
        ("", "anything", True),
    ],
)
def test_prefix_coverage(prefix: str, vendor: str, covered: bool) -> None:
    """A prefix covers its vendor and sub-vendors only; * and empty cover all."""
    assert prefix_covers(prefix, vendor) is covered


def test_pair_permissions(ring: KeyRing) -> None:
    """The read key reads under its prefix; the write key also writes; neither reaches another vendor."""
    pair = ring.generate("com.acme")
    read, write = ring.authenticate(pair["read"]), ring.authenticate(pair["write"])
    assert read is not None and write is not None
    assert read.can_read("com.acme.sub") and not read.can_write("com.acme")
    assert write.can_read("com.acme") and write.can_write("com.acme.sub")
    assert not read.can_read("com.other") and not write.can_write("com.other")
    assert not write.is_super


def test_only_salted_hashes_are_stored(ring: KeyRing, tmp_path: Path) -> None:
    """Neither key string appears anywhere in storage, and equal keys would hash differently (per-key salt)."""
    pair = ring.generate("com.acme")
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert pair["read"].encode() not in stored and pair["write"].encode() not in stored
    records = ring.store.key_records()
    assert len(records) == 2 and records[0]["salt"] != records[1]["salt"]


def test_unknown_and_malformed_keys(ring: KeyRing) -> None:
    """No key is anonymous; an unknown uuid or a non-uuid string is rejected (None)."""
    anonymous = ring.authenticate(None)
    assert anonymous is not None and anonymous.permission is None and not anonymous.can_read("com.acme")
    assert ring.authenticate("6f1c8a5e-8f5e-4a5b-9c3e-2d2f1b0a9e77") is None
    assert ring.authenticate("not-a-key") is None


def test_master_key_is_super_and_never_stored(ring: KeyRing, tmp_path: Path) -> None:
    """The configured master key may do anything and is not written to storage."""
    master = ring.authenticate(MASTER)
    assert master is not None and master.is_super and master.can_write("com.any")
    ring.generate("com.acme")
    assert not any(MASTER.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_without_master_key_nothing_is_super(tmp_path: Path) -> None:
    """With no master key configured, an empty or arbitrary key is not super."""
    ring = KeyRing(open_store(tmp_path), None)
    assert ring.authenticate("") is None
    assert ring.authenticate("a-master-key-from-config") is None


def test_revoke(ring: KeyRing) -> None:
    """A revoked key stops working at once; its pair partner keeps working; revoking twice reports False."""
    pair = ring.generate("com.acme")
    assert ring.revoke(pair["write"]) is True
    assert ring.authenticate(pair["write"]) is None
    assert ring.authenticate(pair["read"]) is not None
    assert ring.revoke(pair["write"]) is False
