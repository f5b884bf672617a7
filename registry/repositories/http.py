"""A schema repository over HTTP: an Iglu static repo (files under `/schemas`) or an Iglu Server API (`.../api`).

From an Iglu Server the schema is asked for with `repr=meta`, so a private one (`metadata.isPublic`
false) is handed out as a PrivateSchema and the resolver's `$ref` rule applies to it as to folders.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from core.errors import IgluParseError
from core.iglu import SchemaKey, check_parts
from registry.repositories import REMOTE_CLASS, PrivateSchema, RepoFailure

__all__ = ["HttpRepository"]

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class HttpRepository:
    """GET `<uri>/schemas/<vendor>/<name>/<format>/<version>`, sending `apikey` when configured; 404 = not found."""

    class_priority = REMOTE_CLASS

    def __init__(
        self,
        uri: str,
        *,
        apikey: str | None = None,
        name: str | None = None,
        priority: int = 0,
        vendor_prefixes: tuple[str, ...] = (),
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.uri = uri.rstrip("/")
        self.name = name or self.uri
        self.priority = priority
        self.vendor_prefixes = vendor_prefixes
        headers = {"accept": "application/json"}
        if apikey:
            headers["apikey"] = apikey
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport, follow_redirects=True)

    @property
    def is_server_api(self) -> bool:
        """Iglu Server's REST API lives under `/api`; static repos are plain file trees."""
        return self.uri.endswith("/api")

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        url = f"{self.uri}/schemas/{path}"
        try:
            response = self._client.get(url, params=params)
        except httpx.HTTPError as e:
            raise RepoFailure(f"GET {url} failed: {type(e).__name__}: {e}") from e
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise RepoFailure(f"GET {url} refused ({response.status_code}): check the apikey", "ClientFailure")
        if response.status_code != 200:
            raise RepoFailure(f"GET {url} answered {response.status_code}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as e:
            raise RepoFailure(f"GET {url} returned invalid JSON: {e}") from e

    def fetch(self, key: SchemaKey) -> dict[str, Any] | None:
        schema = self._get(key.path, {"repr": "meta"} if self.is_server_api else None)
        if schema is not None and not isinstance(schema, dict):
            raise RepoFailure(f"{self.uri}: {key.path} is not a JSON object")
        if schema is not None and self.is_server_api and isinstance(schema.get("metadata"), dict):
            metadata = schema.pop("metadata")
            if metadata.get("isPublic") is False:
                return PrivateSchema(schema)
        return schema

    def list_versions(self, vendor: str, name: str, model: int) -> list[SchemaKey] | None:
        check_parts(vendor, name, "jsonschema")  # these become URL path segments
        listing = self._get(f"{vendor}/{name}/jsonschema/{model}")
        if listing is None:
            return None  # static repos publish schema lists only optionally
        if not isinstance(listing, list):
            raise RepoFailure(f"{self.uri}: schema list for {vendor}/{name} model {model} is not a JSON array")
        keys: list[SchemaKey] = []
        for item in listing:
            try:
                key = SchemaKey.parse(item) if isinstance(item, str) else None  # Iglu's default repr=uri
            except IgluParseError:
                key = None
            if key is None:
                raise RepoFailure(f"{self.uri}: schema list item {item!r} is not an Iglu URI")
            keys.append(key)
        return keys

    def close(self) -> None:
        self._client.close()
