"""API keys for the registry API: read/write pairs scoped to a vendor prefix, stored only as salted hashes.

Iglu Server's permission model (reference §5.6): a key belongs to a vendor prefix and covers that
vendor and every sub-vendor (`com.acme` covers `com.acme.sub`, not `com.acmex`; `*` or empty covers
all). A read key may read private schemas under its prefix; a write key may also publish there. The
master key comes from configuration only, is never stored, and may do anything, including creating
and revoking keys.

`may_read` is the one read rule: every route that serves a schema (`/api/schemas/...`, `/micro/iglu/...`),
the publish-time `$ref` check and the resolver's `$ref` look-ups ask it. A schema's own `$ref`s are
read as `schema_reader(its vendor)`, a read key for exactly that vendor.

Keys are uuid4 strings; the store keeps `sha256(salt + key)` with a random salt per key, and every
comparison goes through `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from core.iglu import SchemaKey
from registry.store import SchemaStore

__all__ = ["ANONYMOUS", "KeyRing", "Principal", "may_read", "prefix_covers", "schema_reader"]

Permission = Literal["read", "write", "super"]


def prefix_covers(prefix: str, vendor: str) -> bool:
    """Does a key's vendor prefix cover `vendor` (exact vendor or a sub-vendor; `*`/empty = every vendor)?"""
    if prefix in ("", "*"):
        return True
    return vendor == prefix or vendor.startswith(prefix + ".")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: anonymous (no key), a scoped read/write key, or the master key."""

    permission: Permission | None
    vendor_prefix: str = ""
    key_id: str | None = None

    @property
    def is_super(self) -> bool:
        return self.permission == "super"

    def can_read(self, vendor: str) -> bool:
        return self.permission is not None and (self.is_super or prefix_covers(self.vendor_prefix, vendor))

    def can_write(self, vendor: str) -> bool:
        return self.permission in ("write", "super") and (self.is_super or prefix_covers(self.vendor_prefix, vendor))


ANONYMOUS = Principal(None)


def may_read(who: Principal, key: SchemaKey, *, is_public: bool) -> bool:
    """May `who` read the schema `key`? Public: anyone. Private: a key whose prefix covers its vendor."""
    return is_public or who.can_read(key.vendor)


def schema_reader(vendor: str) -> Principal:
    """Whom a schema of `vendor` reads as when its `$ref`s are resolved: a read key for that vendor (and sub-vendors).

    Whoever may publish a `vendor` schema holds a key covering `vendor`, so this never lets a schema
    read more than its publisher could; it keeps another vendor's private schemas out of validation.
    """
    return Principal("read", vendor)


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


def is_key_syntax(value: str) -> bool:
    """Keys are canonical uuid strings; anything else is refused before any lookup."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class KeyRing:
    """Creates, checks and revokes keys kept (hashed) in a SchemaStore's sidecar."""

    def __init__(self, store: SchemaStore, master_key: str | None) -> None:
        self.store = store
        self._master = _digest("master", master_key) if master_key else None

    def authenticate(self, presented: str | None) -> Principal | None:
        """ANONYMOUS when no key is presented; the key's Principal when known; None when presented but unknown."""
        if presented is None:
            return ANONYMOUS
        presented = presented.strip()
        # Compare the master key first, in constant time, whatever its syntax (config may hold any string).
        if self._master is not None and hmac.compare_digest(self._master, _digest("master", presented)):
            return Principal("super", "*")
        if not is_key_syntax(presented):
            return None
        found: Principal | None = None
        for record in self.store.key_records():
            expected = str(record.get("hash", ""))
            actual = _digest(str(record.get("salt", "")), presented.lower())
            # Walk every record (no early exit) so timing does not reveal how many keys were compared.
            if hmac.compare_digest(expected, actual) and found is None:
                permission: Permission = "write" if record.get("permission") == "write" else "read"
                found = Principal(permission, str(record.get("vendorPrefix", "")), str(record.get("id")))
        return found

    def generate(self, vendor_prefix: str) -> dict[str, str]:
        """A new read/write pair for `vendor_prefix`; only the hashes are stored."""
        pair = {"read": str(uuid.uuid4()), "write": str(uuid.uuid4())}
        created = datetime.now(UTC).isoformat()
        for permission, key in pair.items():
            salt = secrets.token_hex(16)
            record_id = str(uuid.uuid4())
            record = {
                "id": record_id,
                "salt": salt,
                "hash": _digest(salt, key),
                "vendorPrefix": vendor_prefix,
                "permission": permission,
                "createdAt": created,
            }
            self.store.put_key_record(record_id, record)
        return pair

    def revoke(self, key: str) -> bool:
        """Delete the record of `key`; False when no such key exists."""
        principal = self.authenticate(key)
        if principal is None or principal.key_id is None:
            return False
        self.store.delete_key_record(principal.key_id)
        return True
