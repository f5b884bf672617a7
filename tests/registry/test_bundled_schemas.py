"""The shipped registry data: every file in schemas/ (and the iglu-central test set) is a usable Iglu schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from core.iglu import SchemaKey
from core.locations import BUNDLED_SCHEMAS
from registry.resolver import Resolver
from registry.validation import Validator

IGLU_CENTRAL_CASES = Path(__file__).resolve().parents[1] / "cases" / "iglu-central"
META_SCHEMA = SchemaKey.parse("iglu:com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0")
LICENCE_FILES = {"LICENSE-iglu-central", "LICENSE"}

# What the pipeline needs must stay in schemas/ (the rest of iglu-central lives in tests/cases).
REQUIRED_IN_SCHEMAS = [
    "com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0",
    "com.snowplowanalytics.self-desc/instance/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
    "com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
    "com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1",
    "com.snowplowanalytics.snowplow.badrows/tracker_protocol_violations/jsonschema/1-0-1",
    "com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.badrows/enrichment_failures/jsonschema/2-0-1",
    "com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.badrows/collector_payload_format_violation/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0",
    "com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0",
    "com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
    "com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2",
    "com.snowplowanalytics.snowplow/failure/jsonschema/1-0-0",
    "com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
    "com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3",
    "io.eventkit/collector_payload/jsonschema/1-0-0",
]


def schema_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in LICENCE_FILES)


BUNDLED = schema_files(BUNDLED_SCHEMAS)
TEST_SET = schema_files(IGLU_CENTRAL_CASES / "schemas")


@pytest.fixture(scope="module")
def meta_validator() -> Validator:
    return Validator(Resolver.from_locations(str(BUNDLED_SCHEMAS), cache_ttl=None))


def _load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def test_bundled_schemas_carry_their_licence() -> None:
    """The iglu-central copies ship with Apache-2.0 text beside them, in schemas/ and in the test cases."""
    for licence in (BUNDLED_SCHEMAS / "LICENSE-iglu-central", IGLU_CENTRAL_CASES / "LICENSE"):
        assert "Apache License" in licence.read_text()


@pytest.mark.parametrize("path", REQUIRED_IN_SCHEMAS)
def test_pipeline_schemas_are_bundled(path: str) -> None:
    """Every schema the pipeline emits or checks is in schemas/, not only in the test material."""
    assert (BUNDLED_SCHEMAS / path).is_file()


def test_test_material_is_not_bundled() -> None:
    """Third-party vendor schemas used only as test material live in tests/cases, not in the shipped registry."""
    vendors = {p.name for p in BUNDLED_SCHEMAS.iterdir() if p.is_dir()}
    assert not vendors & {"com.amazon.aws.cloudfront", "com.mandrill", "nl.basjes"}
    assert len(TEST_SET) >= 20


@pytest.mark.parametrize(
    "path", BUNDLED + TEST_SET, ids=lambda p: str(p.relative_to(p.parents[3])) if len(p.parents) > 3 else str(p)
)
def test_schema_file_is_self_describing_and_valid(path: Path, meta_validator: Validator) -> None:
    """The file is JSON, its `self` equals its static-layout path, and it validates against the Iglu meta-schema."""
    schema = _load(path)
    assert isinstance(schema, dict)
    vendor, name, fmt, version = path.parts[-4:]
    assert schema["self"] == {"vendor": vendor, "name": name, "format": fmt, "version": version}
    SchemaKey.parse_path("/".join(path.parts[-4:]))
    result = meta_validator.validate(META_SCHEMA, schema)
    assert result.ok, result.error
    if fmt == "jsonschema":
        assert schema["$schema"].startswith("http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/")


def test_meta_schema_rejects_a_broken_schema(meta_validator: Validator) -> None:
    """The meta-schema check is real: a wrong `self` version and a non-draft-04 `type` are both reported."""
    broken = {"self": {"vendor": "com.acme", "name": "x", "format": "jsonschema", "version": "1.0"}, "type": 5}
    result = meta_validator.validate(META_SCHEMA, broken)
    assert not result.ok and result.error is not None
    paths = {report["path"] for report in result.error["dataReports"]}
    assert {"$.self.version", "$.type"} <= paths
