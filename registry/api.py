"""The Iglu-Server-compatible registry HTTP API (base path `/api`), with vendor-scoped keys and safe publishing.

Reads, writes, validation, health and key management follow Iglu Server 0.14 (reference §5.6);
writes go through the same `Publisher` as `eventkit schema publish`. Authentication and
permission answers (header `apikey`):

| situation                                                  | status |
|------------------------------------------------------------|--------|
| `apikey` present but malformed or unknown (any endpoint)   | 401 `Authentication error: invalid API key` |
| a route part that is not valid Iglu (`..`, `.`, `%2e%2e`)  | 400 naming the part |
| read a public schema, any or no key                        | 200 |
| read a private schema without a key covering its vendor    | 404 `The schema is not found` (existence hidden) |
| list schemas                                               | 200, only what the caller may read (404 when nothing) |
| write (PUT/POST) without a write key covering the vendor   | 403 `Authentication error: not authorized` |
| keygen / revoke / DELETE schema without the master key     | 403 `Authentication error: not authorized` |
| lint endpoint                                              | any valid key or none |
| validate-instance endpoint                                 | as reading the schema |

Who may read a schema is decided by registry.keys.may_read, the same rule `/micro/iglu/...` and the
resolver's `$ref` look-ups use.

Publishing answers 201 (created), 200 (updated, dev mode only), 400 (lint ERRORs, `self` not the
URL, bad JSON, a `$ref` to a private schema the key or the schema's vendor may not read), 409 (exists,
out of order, incompatible bump, supersedes conflict). DELETE of a schema answers 405 unless the
registry runs in development mode (Iglu's patchesAllowed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol

import orjson
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from referencing.exceptions import Unresolvable

from core.errors import IgluParseError, RegistryUnavailable
from core.iglu import SchemaKey, SchemaVer, check_parts, is_vendor, parse_self_describing
from core.paths import OutsideRoot
from registry.keys import KeyRing, Principal, may_read, schema_reader
from registry.lint import SELF_DESC_URI, has_errors, lint_schema, schema_key_of
from registry.publish import Publisher
from registry.resolver import SchemaNotFound
from registry.schema_compiler import SchemaIssue, compile_schema
from registry.store import SchemaStore

__all__ = ["InstanceValidator", "create_app"]

NOT_FOUND = {"message": "The schema is not found"}
NONE_AVAILABLE = {"message": "No schemas available"}
NOT_AUTHORIZED = {"message": "Authentication error: not authorized"}
INVALID_KEY = {"message": "Authentication error: invalid API key"}
SERVER_VERSION = "0.14.0-eventkit"


# Module level: FastAPI resolves (string) annotations in the module's globals.
ApiKey = Annotated[str | None, Header(alias="apikey")]
Repr = Annotated[str, Query(alias="repr")]
IsPublic = Annotated[bool, Query(alias="isPublic")]


class InstanceValidator(Protocol):
    """What the validation endpoint uses when given one (registry.validation.Validator fits)."""

    def validate(self, key: SchemaKey, data: Any) -> Any: ...


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content=body)


class _Auth(Exception):
    """Raised inside handlers to answer 401/403 in one place."""

    def __init__(self, status: int) -> None:
        self.status = status


def create_app(
    store: SchemaStore,
    *,
    master_key: str | None,
    dev_mode: bool = False,
    resolver_validator: InstanceValidator | None = None,
) -> FastAPI:
    """The registry API over `store`; `master_key` from configuration only; `dev_mode` allows overwrite/delete."""
    app = FastAPI(title="eventkit registry", version=SERVER_VERSION, docs_url="/static/swagger-ui/index.html")
    ring = KeyRing(store, master_key)

    @app.exception_handler(_Auth)
    async def _auth_error(request: Request, exc: _Auth) -> JSONResponse:
        return _json(exc.status, INVALID_KEY if exc.status == 401 else NOT_AUTHORIZED)

    @app.exception_handler(IgluParseError)
    async def _invalid_part(request: Request, exc: IgluParseError) -> JSONResponse:
        return _json(400, {"message": str(exc)})

    @app.exception_handler(OutsideRoot)
    async def _outside(request: Request, exc: OutsideRoot) -> JSONResponse:
        return _json(400, {"message": f"Refused: {exc}"})

    @app.exception_handler(RegistryUnavailable)
    async def _unavailable(request: Request, exc: RegistryUnavailable) -> JSONResponse:
        return _json(503, {"message": f"Storage unavailable: {exc}"})

    def principal(apikey: str | None) -> Principal:
        found = ring.authenticate(apikey)
        if found is None:
            raise _Auth(401)
        return found

    def readable(who: Principal, key: SchemaKey) -> bool:
        return may_read(who, key, is_public=store.meta(key).is_public)

    def store_lookup_as(reader: Principal) -> Callable[[SchemaKey], dict[str, Any]]:
        """A `$ref` look-up in the store under the one read rule (a refused schema reads as not found)."""

        def lookup(key: SchemaKey) -> dict[str, Any]:
            schema = store.render(key)
            if schema is None or not readable(reader, key):
                raise SchemaNotFound(key, [])
            return schema

        return lookup

    def represent(key: SchemaKey, repr_: str) -> Any:
        if repr_ == "uri":
            return key.uri
        schema = store.render(key)
        if schema is None:
            return None
        if repr_ == "meta":
            meta = store.meta(key)
            schema = {
                **schema,
                "metadata": {"createdAt": meta.created_at, "updatedAt": meta.updated_at, "isPublic": meta.is_public},
            }
        return schema

    def listing(who: Principal, repr_: str, match: Any) -> JSONResponse:
        if repr_ not in ("uri", "canonical", "meta"):
            return _json(400, {"message": f"repr must be uri, canonical or meta, not {repr_!r}"})
        keys = [k for k in store.list_keys() if match(k) and readable(who, k)]
        if not keys:
            return _json(404, NONE_AVAILABLE)
        return _json(200, [v for v in (represent(k, repr_) for k in keys) if v is not None])

    @app.get("/api/meta/health", response_class=PlainTextResponse)
    def health() -> str:
        return "OK"

    @app.get("/api/meta/health/db", response_class=PlainTextResponse)
    def health_db() -> str:
        store.blobs.read(".meta/health")  # proves the storage answers; a failure becomes 503
        return "OK"

    @app.get("/api/meta/server")
    def server(apikey: ApiKey = None) -> JSONResponse:
        who = principal(apikey)
        auth = {"vendor": who.vendor_prefix, "schema": who.permission, "key": "CREATE" if who.is_super else None}
        body = {
            "version": SERVER_VERSION,
            "authInfo": auth,
            "database": store.url,
            "schemaCount": len(store.list_keys()),
            "debug": False,
            "patchesAllowed": dev_mode,
        }
        return _json(200, body)

    @app.get("/api/schemas")
    def list_all(apikey: ApiKey = None, repr_: Repr = "uri") -> JSONResponse:
        return listing(principal(apikey), repr_, lambda k: True)

    @app.get("/api/schemas/{vendor}")
    def list_vendor(vendor: str, apikey: ApiKey = None, repr_: Repr = "uri") -> JSONResponse:
        check_parts(vendor, "name", "format")
        return listing(principal(apikey), repr_, lambda k: k.vendor == vendor)

    @app.get("/api/schemas/{vendor}/{name}")
    def list_name(vendor: str, name: str, apikey: ApiKey = None, repr_: Repr = "uri") -> JSONResponse:
        check_parts(vendor, name, "format")
        return listing(principal(apikey), repr_, lambda k: (k.vendor, k.name) == (vendor, name))

    @app.get("/api/schemas/{vendor}/{name}/{format_}")
    def list_format(vendor: str, name: str, format_: str, apikey: ApiKey = None, repr_: Repr = "uri") -> JSONResponse:
        check_parts(vendor, name, format_)
        return listing(principal(apikey), repr_, lambda k: (k.vendor, k.name, k.format) == (vendor, name, format_))

    @app.get("/api/schemas/{vendor}/{name}/{format_}/{version}")
    def get_one(
        vendor: str, name: str, format_: str, version: str, *, apikey: ApiKey = None, repr_: Repr = "canonical"
    ) -> JSONResponse:
        who = principal(apikey)
        check_parts(vendor, name, format_)
        if version.isdigit():  # a bare model: list within the model (resolver list lookups)
            family = (vendor, name, format_)
            return listing(
                who,
                "uri" if repr_ == "canonical" else repr_,
                lambda k: (k.vendor, k.name, k.format) == family and k.version.model == int(version),
            )
        key = SchemaKey(vendor, name, format_, SchemaVer.parse(version))  # invalid parts answer 400
        if key not in store.list_keys() or not readable(who, key):
            return _json(404, NOT_FOUND)
        value = represent(key, repr_ if repr_ in ("canonical", "meta", "uri") else "canonical")
        return _json(200, value) if value is not None else _json(404, NOT_FOUND)

    def publish(who: Principal, schema: Any, expected: SchemaKey | None, is_public: bool) -> JSONResponse:
        key = expected or schema_key_of(schema)
        if key is not None and not who.can_write(key.vendor):
            raise _Auth(403)
        outcome = Publisher(store, dev_mode=dev_mode).publish(
            schema, expected_key=expected, is_public=is_public, publisher=who
        )
        return _json(outcome.http_status, outcome.to_json())

    async def body_json(request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError as e:
            raise ValueError(f"Request body is not valid JSON: {e}") from e

    @app.put("/api/schemas/{vendor}/{name}/{format_}/{version}")
    async def put_schema(
        vendor: str,
        name: str,
        format_: str,
        version: str,
        request: Request,
        *,
        apikey: ApiKey = None,
        is_public: IsPublic = False,
    ) -> JSONResponse:
        who = principal(apikey)
        try:
            key = SchemaKey(vendor, name, format_, SchemaVer.parse(version))
        except IgluParseError as e:
            return _json(400, {"message": str(e)})
        if not who.can_write(key.vendor):
            raise _Auth(403)
        try:
            body = await body_json(request)
        except ValueError as e:
            return _json(400, {"message": str(e)})
        if isinstance(body, dict) and "self" not in body:
            body = {"$schema": SELF_DESC_URI, "self": _self_block(key), **body}  # a bare JSON Schema body
        declared = schema_key_of(body)
        if declared is not None and declared != key:
            return _json(
                400,
                {
                    "message": "Schema key in the URL does not match self",
                    "uriSchemaKey": key.uri,
                    "payloadSchemaKey": declared.uri,
                },
            )
        return publish(who, body, key, is_public)

    @app.post("/api/schemas")
    async def post_schema(request: Request, apikey: ApiKey = None, is_public: IsPublic = False) -> JSONResponse:
        who = principal(apikey)
        if who.permission not in ("write", "super"):
            raise _Auth(403)
        try:
            body = await body_json(request)
        except ValueError as e:
            return _json(400, {"message": str(e)})
        if schema_key_of(body) is None:
            report = [f.to_json() for f in lint_schema(body)]
            return _json(400, {"message": "The body is not a self-describing schema", "report": report})
        return publish(who, body, None, is_public)

    @app.delete("/api/schemas/{vendor}/{name}/{format_}/{version}")
    def delete_schema(vendor: str, name: str, format_: str, version: str, apikey: ApiKey = None) -> JSONResponse:
        who = principal(apikey)
        if not who.is_super:
            raise _Auth(403)
        if not dev_mode:
            return _json(405, {"message": "DELETE is forbidden on production registry"})
        key = SchemaKey(vendor, name, format_, SchemaVer.parse(version))  # invalid parts answer 400
        if key not in store.list_keys():
            return _json(404, NOT_FOUND)
        store.delete(key)
        return _json(200, {"message": "Schema deleted"})

    @app.post("/api/validation/validate/schema/jsonschema")
    async def validate_schema(request: Request, apikey: ApiKey = None) -> JSONResponse:
        principal(apikey)
        try:
            body = await body_json(request)
        except ValueError as e:
            return _json(400, {"message": str(e)})
        findings = lint_schema(body)
        report = [f.to_json() for f in findings]
        if has_errors(findings):
            return _json(
                400, {"message": "The schema does not conform to a JSON Schema v4 specification", "report": report}
            )
        return _json(200, {"message": "The schema provided is a valid self-describing schema", "report": report})

    @app.post("/api/validation/validate/instance")
    async def validate_instance(request: Request, apikey: ApiKey = None) -> JSONResponse:
        who = principal(apikey)
        try:
            instance = parse_self_describing(await body_json(request))
        except (ValueError, IgluParseError) as e:
            return _json(400, {"message": f"The instance is not a self-describing JSON: {e}"})
        key = instance.schema
        if key not in store.list_keys() or not readable(who, key):
            return _json(404, NOT_FOUND)
        if resolver_validator is not None:
            result = resolver_validator.validate(key, instance.data)
            if getattr(result, "ok", False):
                return _json(200, {"message": "The instance is valid", "valid": True})
            return _json(
                400, {"message": "The instance is invalid", "valid": False, "report": [_jsonable(result.error)]}
            )
        schema = store.render(key) or {}
        try:
            # The pipeline's validators and `$ref` policy: no remote fetch, no other vendor's private schema.
            validator = compile_schema(schema, store_lookup_as(schema_reader(key.vendor))).full
            errors = [
                {"message": e.message, "level": "ERROR", "pointer": "/" + "/".join(str(p) for p in e.absolute_path)}
                for e in validator.iter_errors(instance.data)
            ]
        except (SchemaIssue, SchemaNotFound, Unresolvable) as e:
            errors = [{"message": f"The schema cannot be used for validation: {e}", "level": "ERROR", "pointer": "/"}]
        if errors:
            return _json(400, {"message": "The instance is invalid", "valid": False, "report": errors})
        return _json(200, {"message": "The instance is valid", "valid": True})

    @app.post("/api/auth/keygen")
    async def keygen(
        request: Request,
        apikey: ApiKey = None,
        vendor_prefix: Annotated[str | None, Query(alias="vendor_prefix")] = None,
    ) -> JSONResponse:
        who = principal(apikey)
        if not who.is_super:
            raise _Auth(403)
        prefix = vendor_prefix
        raw = await request.body()
        if raw:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _json(400, {"message": "Request body is not valid JSON"})
            if isinstance(value, dict) and isinstance(value.get("vendorPrefix"), str):
                prefix = value["vendorPrefix"]
        if prefix is None or not _valid_prefix(prefix):
            return _json(400, {"message": "vendorPrefix is required: a vendor such as com.acme, or * for every vendor"})
        return _json(201, ring.generate(prefix))

    @app.delete("/api/auth/keygen")
    def revoke(
        apikey: ApiKey = None,
        key_query: Annotated[str | None, Query(alias="key")] = None,
        key_header: Annotated[str | None, Header(alias="key")] = None,
    ) -> JSONResponse:
        who = principal(apikey)
        if not who.is_super:
            raise _Auth(403)
        target = key_query or key_header
        if not target:
            return _json(400, {"message": "key is required (query parameter or header)"})
        if not ring.revoke(target):
            return _json(404, {"message": "The key is not found"})
        return _json(200, {"message": "Keys have been deleted"})

    return app


def _self_block(key: SchemaKey) -> dict[str, str]:
    return {"vendor": key.vendor, "name": key.name, "format": key.format, "version": str(key.version)}


def _valid_prefix(prefix: str) -> bool:
    return prefix == "*" or is_vendor(prefix)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    try:
        orjson.dumps(value)
    except TypeError:
        return str(value)
    return value
