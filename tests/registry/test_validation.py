r"""Validation: the compiled fast path and the full jsonschema report agree, reports have Iglu's shape, refs stay local.

How each schema feature is handled (draft-04 semantics). The differential property tests below
generate schemas mixing all of these, plus instances for every iglu-central schema, and assert
that both paths give the same valid/invalid verdict. F = fast path (fastjsonschema 2.22 code),
J = full path (jsonschema Draft4Validator).

| feature                                  | F                          | J                      | verdicts           |
| ---------------------------------------- | -------------------------- | ---------------------- | ------------------ |
| type (bool not a number, 1.0 not an int) | isinstance checks          | draft-04 type checker  | agree              |
| enum / uniqueItems with True, 1, 1.0     | type-aware comparison      | type-aware `equal`     | agree              |
| minimum/maximum, boolean exclusive*      | native                     | native                 | agree              |
| multipleOf on floats                     | Decimal(repr(x))           | same rule (1)          | agree, J fixed     |
| pattern with `$`                         | python_dollar rewrite (2)  | registry.patterns (5)  | agree, F fixed     |
| other pattern / patternProperties        | registry.patterns (5)      | registry.patterns (5)  | agree              |
| format (3)                               | registry.json_formats      | same functions         | agree              |
| properties, required, additional-, pattern-Properties, dependencies, min/maxProperties | native | native | agree |
| items (schema or tuple), additionalItems, min/maxItems, uniqueItems | native | native       | agree              |
| allOf / anyOf / oneOf / not              | native                     | native                 | agree              |
| default                                  | ignored (use_default=False)| ignored                | agree, no mutation |
| required names additionalProperties:false forbids | refuses to compile | accepted          | fallback: F is J   |
| ints beyond float range (10**400)        | generated code raises      | exact                  | fallback to J      |
| $ref `#/...` and `iglu:...`              | handler via the resolver   | registry via resolver  | agree              |
| $ref draft-04 meta-schema URL            | bundled copy               | bundled copy           | agree              |
| $ref http(s), file, relative names       | refused at compile time    | refused                | schemaIssues (4)   |

(1) stock jsonschema divides binary floats (0.6 is "not a multiple" of 0.1); Iglu's Java check uses
    BigDecimal, so the full path gets fastjsonschema's decimal rule.
(2) stock fastjsonschema turns every unescaped `$` into `\Z` (even inside `[$]`); jsonschema and
    Java (Iglu) let `$` match before a final newline, so the fast path's patterns are rewritten.
(3) date-time, date, time, email, hostname, ipv4, ipv6, uri, uuid, regex; unknown formats ignored.
(4) never fetched: a tripwire HTTP server proves no request is made.
(5) RE2 or `regex` with a timeout, with Python re.search's meaning; tests/registry/test_patterns.py
    holds both validators to stock jsonschema and lists the differences.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastjsonschema import JsonSchemaValueException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import RegistryUnavailable
from core.iglu import SchemaKey, SelfDescribing
from core.locations import BUNDLED_SCHEMAS
from registry.json_depth import admitted_depth, nesting_depth_exceeds
from registry.repositories.http import HttpRepository
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver
from registry.schema_compiler import CompiledSchema, SchemaIssue, compile_schema, python_dollar
from registry.validation import Validator
from tests.registry.schema_strategies import draft4_schemas, instances_for

CASES = Path(__file__).resolve().parents[1] / "cases" / "iglu-central"
KEY = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")


def publish(root: Path, key: SchemaKey, body: dict[str, Any]) -> None:
    """Write `body` as the self-describing schema for `key` into a static-layout folder."""
    self_block = {"vendor": key.vendor, "name": key.name, "format": key.format, "version": str(key.version)}
    file = root / key.path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({"self": self_block, **body}))  # stdlib json: edge cases hold ints past 64 bits


def verdicts(compiled: CompiledSchema, instance: Any) -> tuple[bool | None, bool]:
    """(fast verdict or None when the generated code cannot evaluate it, full verdict)."""
    try:
        compiled.fast(instance)
        fast: bool | None = True
    except JsonSchemaValueException:
        fast = False
    except (ArithmeticError, ValueError, TypeError):
        fast = None
    full = not any(True for _ in compiled.full.iter_errors(instance))
    return fast, full


def no_lookup(key: SchemaKey) -> dict[str, Any]:
    raise AssertionError(f"unexpected lookup of {key}")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fast_and_full_paths_agree_on_generated_schemas(data: st.DataObject) -> None:
    """For varied draft-04 schemas and schema-guided instances, fast and full verdicts are equal."""
    schema = data.draw(draft4_schemas(), label="schema")
    try:
        compiled = compile_schema(schema, no_lookup)
    except SchemaIssue:
        return  # not a valid draft-04 schema: both paths refuse it the same way
    bound = admitted_depth(schema)
    for _ in range(4):
        instance = data.draw(instances_for(schema), label="instance")
        fast, full = verdicts(compiled, instance)
        assert fast is None or fast == full
        if full and bound is not None:
            assert not nesting_depth_exceeds(instance, bound)  # the bound that lets valid instances skip the walk


ALL_IGLU = sorted(
    (
        p
        for root in (BUNDLED_SCHEMAS, CASES / "schemas")
        for p in root.rglob("*")
        if p.is_file() and "LICENSE" not in p.name
    ),
    key=str,
)


@pytest.fixture(scope="module")
def iglu_resolver() -> Resolver:
    return Resolver.from_locations([str(BUNDLED_SCHEMAS), str(CASES)], cache_ttl=None)


@functools.cache
def compiled_iglu(path: Path) -> tuple[dict[str, Any], CompiledSchema, st.SearchStrategy[Any]]:
    resolver = Resolver.from_locations([str(BUNDLED_SCHEMAS), str(CASES)], cache_ttl=None)
    schema = orjson.loads(path.read_bytes())
    return schema, compile_schema(schema, resolver.lookup), instances_for(schema)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fast_and_full_paths_agree_on_iglu_central_schemas(data: st.DataObject) -> None:
    """For every iglu-central schema, instances shaped like its events get the same verdict on both paths."""
    path = data.draw(st.sampled_from(ALL_IGLU), label="schema file")
    _, compiled, instances = compiled_iglu(path)
    for _ in range(4):
        instance = data.draw(instances, label="instance")
        fast, full = verdicts(compiled, instance)
        assert fast is None or fast == full


def test_every_iglu_central_schema_compiles_on_the_fast_path(iglu_resolver: Resolver) -> None:
    """No iglu-central schema needs the fallback: each compiles to fastjsonschema code."""
    for path in ALL_IGLU:
        schema, compiled, _ = compiled_iglu(path)
        if schema["self"]["format"] == "jsonschema":
            assert compiled.fallback is None, path


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ({"type": "integer"}, 1.0, False),
        ({"type": "number"}, True, False),
        ({"enum": [1]}, True, False),
        ({"enum": [True]}, 1, False),
        ({"enum": [1.0]}, 1, True),
        ({"uniqueItems": True}, [1, True], True),
        ({"uniqueItems": True}, [1, 1.0], False),
        ({"pattern": "^[a-z]+$"}, "abc\n", True),
        ({"pattern": "^[a-z]+$"}, "abc\n\n", False),
        ({"pattern": "^[$]+$"}, "$$", True),
        ({"multipleOf": 0.1}, 0.6, True),
        ({"multipleOf": 0.01}, 19.01, True),
        ({"multipleOf": 2.5}, 2**53, False),
        ({"multipleOf": 0.1}, 10**400, True),
        ({"maximum": 10**20}, 10**400, False),
        ({"maximum": 5, "exclusiveMaximum": True}, 5, False),
        ({"format": "date-time"}, "2026-02-30T00:00:00Z", False),
        ({"format": "date-time"}, "2026-02-28T00:00:00.5+01:00", True),
        ({"format": "date-time"}, "2026-02-28T00:00:00", False),
        ({"format": "ipv4"}, "01.2.3.4", False),
        ({"format": "ipv6"}, "1::2::3", False),
        ({"format": "uri"}, "no scheme", False),
        ({"format": "made-up"}, "anything", True),
        ({"format": "email"}, 5, True),
        ({"properties": {"a": {"default": 1}}}, {}, True),
        ({"required": ["x"], "properties": {}, "additionalProperties": False}, {"x": 1}, False),
        ({"required": ["x"], "properties": {}, "additionalProperties": False}, "not an object", True),
    ],
)
def test_known_edge_cases(schema: dict[str, Any], instance: Any, valid: bool, tmp_path: Path) -> None:
    """Edge cases from the feature table: both paths and Validator.validate/is_valid give the documented verdict."""
    compiled = compile_schema(schema, no_lookup)
    fast, full = verdicts(compiled, instance)
    assert full == valid and fast in (None, valid)
    publish(tmp_path, KEY, schema)
    validator = Validator(Resolver.from_locations(str(tmp_path)))
    assert validator.validate(KEY, instance).ok is valid
    assert validator.is_valid(KEY, instance) is valid
    if schema == {"properties": {"a": {"default": 1}}}:
        assert instance == {}  # data is never mutated (no defaults filled in)


def test_python_dollar_keeps_escapes_and_classes() -> None:
    """Only unescaped `$` outside classes becomes an end anchor; escaped and in-class `$` stay literal."""
    assert python_dollar("^a$") == "^a(?=\\n?\\Z)"
    assert python_dollar("\\$") == "\\$"
    assert python_dollar("[$]") == "[\\$]"
    assert python_dollar("[]$]$") == "[]\\$](?=\\n?\\Z)"


CHECKOUT = {
    "type": "object",
    "properties": {
        "price": {"type": "number"},
        "currency": {"enum": ["EUR", "USD"]},
        "sku": {"type": "string", "maxLength": 5},
        "at": {"type": "string", "format": "date-time"},
        "odd key": {"type": "integer"},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku", "qty"]},
        },
    },
    "required": ["price", "currency"],
    "additionalProperties": False,
}


@pytest.fixture
def checkout(tmp_path: Path) -> Validator:
    publish(tmp_path, KEY, CHECKOUT)
    return Validator(Resolver.from_locations(str(tmp_path)))


def test_valid_instance_gives_ok_without_error(checkout: Validator) -> None:
    """A valid instance is ok with no error, keyed by the declared schema."""
    result = checkout.validate(KEY, {"price": 1.5, "currency": "EUR", "items": [{"sku": "a", "qty": 1}]})
    assert (result.ok, result.error, result.key, result.superseded) == (True, None, KEY, False)


def test_report_has_iglu_shape_for_every_failure(checkout: Validator) -> None:
    """Every failure becomes a dataReport with JSONPath, keyword, message and targets, as in Iglu's ValidationError."""
    instance = {
        "price": "12",
        "currency": "GBP",
        "sku": "toolong",
        "at": "yesterday",
        "odd key": 1.5,
        "items": [{"qty": 1}],
        "extra": True,
    }
    result = checkout.validate(KEY, instance)
    assert not result.ok and result.error is not None
    assert result.error["error"] == "ValidationError"
    reports = {(r["path"], r["keyword"]): r for r in result.error["dataReports"]}
    assert reports["$.price", "type"]["targets"] == ["string", "number"]
    assert reports["$.price", "type"]["message"] == "$.price: string found, number expected"
    assert reports["$.currency", "enum"]["targets"] == ["EUR", "USD"]
    assert reports["$.sku", "maxLength"]["targets"] == ["5"]
    assert reports["$.at", "format"]["targets"] == ["date-time"]
    assert reports["$['odd key']", "type"]["targets"] == ["number", "integer"]
    assert reports["$.items[0]", "required"]["targets"] == ["sku"]
    assert reports["$", "additionalProperties"]["targets"] == ["extra"]
    for report in result.error["dataReports"]:
        assert set(report) == {"message", "path", "keyword", "targets"}
        assert report["message"].startswith("$")


def test_each_missing_property_is_its_own_report(checkout: Validator) -> None:
    """`required` failures name one missing property per report, as networknt does."""
    result = checkout.validate(KEY, {})
    assert result.error is not None
    assert sorted(r["targets"][0] for r in result.error["dataReports"]) == ["currency", "price"]


def test_report_validates_as_a_schema_violations_bad_row_message(checkout: Validator) -> None:
    """The ValidationError JSON fits the IgluError message of the schema_violations 2-0-1 bad-row schema."""
    result = checkout.validate(KEY, {"price": "x", "currency": "EUR"})
    bundled = Resolver.from_locations(str(BUNDLED_SCHEMAS))
    bad_rows = bundled.lookup(
        SchemaKey.parse("iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1")
    )
    failure = {**bad_rows, "properties": {"failure": bad_rows["properties"]["failure"]}, "required": ["failure"]}
    message = {"schemaKey": KEY.uri, "error": result.error}
    document = {"failure": {"timestamp": "2026-01-01T00:00:00.000Z", "messages": [message]}}
    assert list(compile_schema(failure, bundled.lookup).full.iter_errors(document)) == []


def test_nesting_deeper_than_the_bound_is_invalid_without_recursion(checkout: Validator) -> None:
    """Instances nested past max_depth get a maxDepth report; 100 000 levels do not blow the stack."""
    deep: Any = "leaf"
    for _ in range(100_000):
        deep = [deep]
    assert nesting_depth_exceeds(deep, 50)
    result = checkout.validate(KEY, {"price": 1, "currency": "EUR", "items": deep})
    assert result.error is not None and result.error["dataReports"][0]["keyword"] == "maxDepth"
    assert not checkout.is_valid(KEY, deep)


CLOSED = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False,
}


def test_closed_schema_checks_depth_only_after_a_rejection(tmp_path: Path) -> None:
    """A schema admitting at most 2 levels skips the walk for accepted data and still reports deep rejected data."""
    assert admitted_depth(CLOSED) == 2
    assert admitted_depth({**CLOSED, "additionalProperties": True}) is None
    publish(tmp_path, KEY, CLOSED)
    validator = Validator(Resolver.from_locations(str(tmp_path)))
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert validator.validate(KEY, {"tags": ["a"]}).ok
    result = validator.validate(KEY, {"tags": deep})
    assert result.error is not None and result.error["dataReports"][0]["keyword"] == "maxDepth"
    assert not validator.is_valid(KEY, {"tags": deep})
    shallow = Validator(Resolver.from_locations(str(tmp_path)), max_depth=1)
    assert not shallow.validate(KEY, {"tags": ["a"]}).ok  # the schema admits more than max_depth: walk first


def test_a_changed_schema_is_used_after_the_ttl(tmp_path: Path) -> None:
    """Compiled validators follow the resolver's TTL: an edited schema file takes effect once it expires."""
    now = [0.0]
    publish(tmp_path, KEY, {"properties": {"a": {"type": "string"}}})
    resolver = Resolver([LocalRepository(tmp_path)], cache_ttl=10, clock=lambda: now[0])
    validator = Validator(resolver)
    assert validator.is_valid(KEY, {"a": "x"})
    publish(tmp_path, KEY, {"properties": {"a": {"type": "integer"}}})
    now[0] = 9.0
    assert validator.is_valid(KEY, {"a": "x"})
    now[0] = 11.0
    assert not validator.is_valid(KEY, {"a": "x"})
    assert validator.validate(KEY, {"a": 1}).ok


def test_depth_bound_is_exact() -> None:
    """`max_depth` levels of containers pass; one more fails; scalars have depth 0."""
    value: Any = {}
    for _ in range(49):
        value = {"a": value}
    assert not nesting_depth_exceeds(value, 50)
    assert nesting_depth_exceeds([value], 50)
    assert not nesting_depth_exceeds("scalar", 0)
    assert nesting_depth_exceeds([], 0)


@pytest.fixture
def tripwire() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server that records every request: a `$ref` pointing here must never reach it."""
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"type": "string"}')

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory="."))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("form", ["http", "file", "relative", "id-relative"])
def test_refs_outside_the_registry_are_refused_and_never_fetched(
    form: str, tmp_path: Path, tripwire: tuple[str, list[str]]
) -> None:
    """A `$ref` to http(s), file or a relative name is a schemaIssue; the tripwire server gets no request."""
    url, seen = tripwire
    (tmp_path / "other.json").write_text('{"type": "string"}')
    ref = {
        "http": f"{url}/schema.json#",
        "file": f"file://{tmp_path}/other.json",
        "relative": "other.json",
        "id-relative": "schema.json",
    }[form]
    body: dict[str, Any] = {"properties": {"a": {"$ref": ref}}}
    if form == "id-relative":
        body["id"] = f"{url}/base/"
    publish(tmp_path / "repo", KEY, body)
    result = Validator(Resolver.from_locations(str(tmp_path / "repo"))).validate(KEY, {"a": 1})
    assert not result.ok and result.error is not None
    assert result.error["error"] == "ValidationError"
    assert "outside the registry" in result.error["schemaIssues"][0]["message"]
    assert seen == []


def test_iglu_refs_resolve_through_the_registry(tmp_path: Path) -> None:
    """`$ref: iglu:...` (with a fragment) is looked up through the resolver on both paths."""
    address = SchemaKey.parse("iglu:com.acme/address/jsonschema/1-0-0")
    publish(tmp_path, address, {"definitions": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "type": "object"})
    publish(tmp_path, KEY, {"properties": {"zip": {"$ref": "iglu:com.acme/address/jsonschema/1-0-0#/definitions/zip"}}})
    validator = Validator(Resolver.from_locations(str(tmp_path)))
    assert validator.validate(KEY, {"zip": "12345"}).ok
    result = validator.validate(KEY, {"zip": "1234"})
    assert result.error is not None and result.error["dataReports"][0]["keyword"] == "pattern"


def test_iglu_ref_to_a_missing_schema_is_a_schema_issue(tmp_path: Path) -> None:
    """A `$ref` to an unpublished iglu schema makes the schema unusable (reported), not a crash."""
    publish(tmp_path, KEY, {"properties": {"a": {"$ref": "iglu:com.acme/missing/jsonschema/1-0-0#"}}})
    result = Validator(Resolver.from_locations(str(tmp_path))).validate(KEY, {"a": 1})
    assert result.error is not None
    assert "iglu:com.acme/missing/jsonschema/1-0-0" in result.error["schemaIssues"][0]["message"]


def test_superseded_schema_validates_with_its_successor(tmp_path: Path) -> None:
    """With `$supersededBy`, the successor validates; the result names both keys and errors carry supersededBy."""
    old = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-2")
    publish(tmp_path, old, {"$supersededBy": "1-0-3", "properties": {"a": {"type": "string"}}})
    publish(
        tmp_path, SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-3"), {"properties": {"a": {"type": "integer"}}}
    )
    validator = Validator(Resolver.from_locations(str(tmp_path)))
    ok = validator.validate(old, {"a": 1})
    assert ok.ok and ok.superseded and str(ok.key.version) == "1-0-3" and ok.original == old
    bad = validator.validate(old, {"a": "x"})
    assert bad.error is not None and bad.error["supersededBy"] == "1-0-3"


def test_unknown_schema_is_a_resolution_error(tmp_path: Path) -> None:
    """A key no repository has gives ok=False with Iglu's ResolutionError, for validate and validate_sdj."""
    validator = Validator(Resolver.from_locations(str(tmp_path)))
    result = validator.validate_sdj(SelfDescribing(KEY, {}))
    assert not result.ok and result.error is not None and result.error["error"] == "ResolutionError"
    assert result.error["lookupHistory"][0]["errors"] == [{"error": "NotFound"}]
    assert not validator.is_valid(KEY, {})


def test_unusable_schema_is_a_schema_issue(tmp_path: Path) -> None:
    """A schema that is not valid draft-04 gives schemaIssues with a path, never an exception."""
    publish(tmp_path, KEY, {"properties": {"a": {"type": "text"}}})
    result = Validator(Resolver.from_locations(str(tmp_path))).validate(KEY, {"a": 1})
    assert result.error is not None
    assert result.error["schemaIssues"][0]["path"] == "$.properties.a.type"


def test_registry_outage_raises_instead_of_judging(tmp_path: Path) -> None:
    """When the only repository cannot be reached, validate and is_valid raise RegistryUnavailable."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    validator = Validator(Resolver([LocalRepository(tmp_path), HttpRepository(f"http://127.0.0.1:{port}")]))
    with pytest.raises(RegistryUnavailable):
        validator.validate(KEY, {})
    with pytest.raises(RegistryUnavailable):
        validator.is_valid(KEY, {})


def test_validators_are_compiled_once_per_schema(checkout: Validator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated validations reuse the compiled validator instead of compiling again."""
    import registry.validation as module

    calls: list[int] = []
    original = module.compile_schema

    def counting(*args: Any) -> CompiledSchema:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(module, "compile_schema", counting)
    for _ in range(5):
        checkout.validate(KEY, {"price": 1, "currency": "EUR"})
        checkout.validate(KEY, {"price": "x"})
    assert len(calls) == 1
