"""Iglu primitives: SchemaVer, SchemaKey, SchemaCriterion and self-describing JSON follow iglu-core's exact rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import IgluParseError
from core.iglu import SchemaCriterion, SchemaKey, SchemaVer, SelfDescribing, parse_self_describing
from core.paths import contained

# The iglu-core grammar as snowplow.md §5.1 states it, written out independently of core.iglu and
# always applied with fullmatch (a whole-string match, no trailing newline). One departure (docs/DESIGN.md,
# Registry): a vendor may not start with '.', so no part is ever `.`, `..` or a hidden folder name.
REF_VENDOR = r"(?!\.)[a-zA-Z0-9\-_.]+"
REF_NAME = r"[a-zA-Z0-9\-_]+"
REF_FORMAT = r"[a-zA-Z0-9\-_]+"
REF_SCHEMAVER = r"[1-9][0-9]*-(?:0|[1-9][0-9]*)-(?:0|[1-9][0-9]*)"
REF_URI = rf"iglu:{REF_VENDOR}/{REF_NAME}/{REF_FORMAT}/{REF_SCHEMAVER}"
REF_PATH = rf"{REF_VENDOR}/{REF_NAME}/{REF_FORMAT}/{REF_SCHEMAVER}"

vendors = st.from_regex(rf"\A{REF_VENDOR}\Z")
names = st.from_regex(rf"\A{REF_NAME}\Z")
numbers = st.integers(0, 10**12)
schema_vers = st.builds(SchemaVer, st.integers(1, 10**12), numbers, numbers)
schema_keys = st.builds(SchemaKey, vendors, names, names, schema_vers)

# Strings close to the grammar, so the comparison with the reference regex explores its edges.
_near = st.text(alphabet="iglu:/-_.*01239azAZ \n?", max_size=30)


@given(schema_vers)
def test_schemaver_format_parse_round_trip(ver: SchemaVer) -> None:
    """str() then parse() gives back the same SchemaVer, and str() is the canonical M-R-A text."""
    assert SchemaVer.parse(str(ver)) == ver
    assert str(ver) == f"{ver.model}-{ver.revision}-{ver.addition}"


@given(schema_vers, schema_vers)
def test_schemaver_ordering_is_numeric_tuple_ordering(a: SchemaVer, b: SchemaVer) -> None:
    """SchemaVers order exactly as (model, revision, addition) tuples of integers (1-10-0 > 1-9-0)."""
    ta, tb = (a.model, a.revision, a.addition), (b.model, b.revision, b.addition)
    assert (a < b) == (ta < tb)
    assert (a <= b) == (ta <= tb)
    assert (a > b) == (ta > tb)
    assert (a == b) == (ta == tb)


def test_schemaver_orders_numerically_not_lexically() -> None:
    """1-10-0 sorts after 1-9-0 and 10-0-0 after 9-0-0."""
    texts = ["10-0-0", "1-10-0", "1-9-0", "9-0-0", "1-0-10", "1-0-2"]
    ordered = [str(v) for v in sorted(SchemaVer.parse(t) for t in texts)]
    assert ordered == ["1-0-2", "1-0-10", "1-9-0", "1-10-0", "9-0-0", "10-0-0"]


@pytest.mark.parametrize(
    "text",
    [
        "0-0-0",  # model 0
        "0-1-0",
        "01-0-0",  # leading zeros
        "1-01-0",
        "1-0-01",
        "1-00-0",
        "-1-0-0",  # negative
        "1--1-0",
        "1-0",  # too short / too long
        "1-0-0-0",
        "1.0.0",  # junk
        "a-b-c",
        "1-*-0",
        "?-?-?",
        "1-0-0\n",  # trailing newline ($ would accept it)
        " 1-0-0",
        "1-0-0 ",
        "١-٠-٠",  # non-ASCII digits
        "",
    ],
)
def test_schemaver_refuses_what_iglu_core_refuses(text: str) -> None:
    """Leading zeros, model 0, negatives, partial versions, whitespace and other junk are refused."""
    with pytest.raises(IgluParseError):
        SchemaVer.parse(text)


@pytest.mark.parametrize(("model", "revision", "addition"), [(0, 0, 0), (1, -1, 0), (1, 0, -1), (-1, 0, 0)])
def test_schemaver_constructor_refuses_impossible_versions(model: int, revision: int, addition: int) -> None:
    """A SchemaVer cannot be built with model < 1 or a negative revision/addition."""
    with pytest.raises(IgluParseError):
        SchemaVer(model, revision, addition)


@given(_near | st.from_regex(rf"\A{REF_SCHEMAVER}\Z") | st.from_regex(r"\A[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}\n?\Z"))
def test_schemaver_accepts_exactly_the_iglu_core_grammar(text: str) -> None:
    """SchemaVer.parse succeeds iff the whole string matches iglu-core's MODEL-REVISION-ADDITION regex."""
    expected = re.fullmatch(REF_SCHEMAVER, text) is not None
    try:
        SchemaVer.parse(text)
        accepted = True
    except IgluParseError:
        accepted = False
    assert accepted == expected


@given(schema_keys)
def test_schema_key_uri_and_path_round_trip(key: SchemaKey) -> None:
    """A SchemaKey survives uri → parse and path → parse_path, and its uri is `iglu:` + path."""
    assert SchemaKey.parse(key.uri) == key
    assert SchemaKey.parse_path(key.path) == key
    assert key.uri == f"iglu:{key.path}" == str(key)


@given(
    _near.map(lambda s: "iglu:" + s)
    | st.from_regex(rf"\A{REF_URI}\Z")
    | st.from_regex(r"\Aiglu:[a-z.]{1,4}/[a-z_]{1,4}/[a-z]{1,4}/[0-9]{1,2}-[0-9]{1,2}-[0-9]{1,2}\n?\Z")
)
def test_schema_key_accepts_exactly_the_iglu_core_grammar(uri: str) -> None:
    """SchemaKey.parse succeeds iff the URI fully matches iglu-core's regex; parse_path likewise without `iglu:`."""
    for parse, pattern, text in ((SchemaKey.parse, REF_URI, uri), (SchemaKey.parse_path, REF_PATH, uri[5:])):
        expected = re.fullmatch(pattern, text) is not None
        try:
            parse(text)
            accepted = True
        except IgluParseError:
            accepted = False
        assert accepted == expected, text


@given(schema_keys, schema_keys)
def test_schema_key_ordering_is_vendor_name_format_then_version(a: SchemaKey, b: SchemaKey) -> None:
    """Keys order by (vendor, name, format, SchemaVer)."""
    assert (a < b) == ((a.vendor, a.name, a.format, a.version) < (b.vendor, b.name, b.format, b.version))


@pytest.mark.parametrize(
    "uri",
    [
        "iglu:com.acme/x/jsonschema/1-0-0 ",
        "com.acme/x/jsonschema/1-0-0",
        "iglu:com.acme/x/1-0-0",
        "iglu:com acme/x/jsonschema/1-0-0",
        "iglu:com.acme/x.y/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0-*",
        "IGLU:com.acme/x/jsonschema/1-0-0",
    ],
)
def test_schema_key_refuses_malformed_uris(uri: str) -> None:
    """Whitespace, a missing scheme or part, a dot in the name, a star, an upper-case scheme: all refused."""
    with pytest.raises(IgluParseError):
        SchemaKey.parse(uri)


def _star(value: int | None, starred: bool) -> int | None:
    return None if starred else value


@given(
    st.builds(
        SchemaCriterion,
        vendors,
        names,
        names,
        st.none() | st.integers(1, 99),
        st.none() | st.integers(0, 99),
        st.none() | st.integers(0, 99),
    )
)
def test_criterion_format_parse_round_trip(criterion: SchemaCriterion) -> None:
    """A criterion's text (`iglu:v/n/f/1-*-*`) parses back to the same criterion."""
    assert SchemaCriterion.parse(str(criterion)) == criterion


@given(schema_keys, schema_keys, st.booleans(), st.booleans(), st.booleans())
def test_criterion_matches_exactly_the_keys_agreeing_on_fixed_parts(
    base: SchemaKey, other: SchemaKey, star_m: bool, star_r: bool, star_a: bool
) -> None:
    """A criterion made from a key with some version parts starred matches a key iff it agrees on every fixed part."""
    v = base.version
    criterion = SchemaCriterion(
        base.vendor,
        base.name,
        base.format,
        _star(v.model, star_m),
        _star(v.revision, star_r),
        _star(v.addition, star_a),
    )
    assert criterion.matches(base)
    o = other.version
    agrees = (
        (other.vendor, other.name, other.format) == (base.vendor, base.name, base.format)
        and (star_m or o.model == v.model)
        and (star_r or o.revision == v.revision)
        and (star_a or o.addition == v.addition)
    )
    assert criterion.matches(other) == agrees
    # the same law for a key that shares the family but not the version
    sibling = SchemaKey(base.vendor, base.name, base.format, o)
    assert criterion.matches(sibling) == (
        (star_m or o.model == v.model) and (star_r or o.revision == v.revision) and (star_a or o.addition == v.addition)
    )


def test_criterion_examples_from_the_iglu_docs() -> None:
    """`1-*-*` matches every 1-x-y of the family, `1-0-*` only additions of 1-0; other families never."""
    model_one = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-*-*")
    rev_zero = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-*")
    key = SchemaKey.parse
    assert model_one.matches(key("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-3-7"))
    assert not model_one.matches(key("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/2-0-0"))
    assert rev_zero.matches(key("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"))
    assert not rev_zero.matches(key("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-1-0"))
    assert not model_one.matches(key("iglu:com.acme/contexts/jsonschema/1-0-0"))
    assert str(rev_zero) == "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-*"


@pytest.mark.parametrize(
    "text",
    [
        "iglu:a/b/c/0-*-*",
        "iglu:a/b/c/1-01-*",
        "iglu:a/b/c/1-*",
        "iglu:a/b/c/1-*-*\n",
        "a/b/c/1-*-*",
        "iglu:a/b/c/1-?-?",
    ],
)
def test_criterion_refuses_malformed_text(text: str) -> None:
    """Criteria keep SchemaVer's number rules (model ≥ 1, no leading zeros) and need all three parts."""
    with pytest.raises(IgluParseError):
        SchemaCriterion.parse(text)


@given(
    schema_keys, st.none() | st.integers() | st.text(max_size=5) | st.dictionaries(st.text(max_size=3), st.integers())
)
def test_self_describing_round_trip(key: SchemaKey, data: Any) -> None:
    """parse_self_describing(sdj.to_json()) gives back the same schema key and data."""
    sdj = SelfDescribing(key, data)
    assert parse_self_describing(sdj.to_json()) == sdj


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ([], "INVALID_DATA_PAYLOAD"),
        ("iglu:a/b/jsonschema/1-0-0", "INVALID_DATA_PAYLOAD"),
        ({"schema": "iglu:a/b/jsonschema/1-0-0"}, "INVALID_DATA_PAYLOAD"),
        ({"data": {}}, "INVALID_DATA_PAYLOAD"),
        ({"schema": "iglu:com.acme/x/jsonschema/1-0", "data": {}}, "INVALID_SCHEMAVER"),
        ({"schema": "iglu:com.acme/x/jsonschema/0-0-0", "data": {}}, "INVALID_SCHEMAVER"),
        ({"schema": "iglu:com.acme/x/jsonschema/1-01-0", "data": {}}, "INVALID_SCHEMAVER"),
        ({"schema": "iglu:com.acme/x/jsonschema/1-0-0\n", "data": {}}, "INVALID_SCHEMAVER"),
        ({"schema": "iglu:com.acme/x/jsonschema", "data": {}}, "INVALID_IGLUURI"),
        ({"schema": "com.acme/x/jsonschema/1-0-0", "data": {}}, "INVALID_IGLUURI"),
        ({"schema": "iglu:com acme/x/jsonschema/1-0-0", "data": {}}, "INVALID_IGLUURI"),
        ({"schema": "iglu:com.acme/x/y/jsonschema/1-0-0", "data": {}}, "INVALID_IGLUURI"),
        ({"schema": 5, "data": {}}, "INVALID_IGLUURI"),
    ],
)
def test_parse_self_describing_names_the_iglu_error_code(value: Any, code: str) -> None:
    """Each failure carries iglu-core's ParseError code, which NotIglu bad-row messages report."""
    with pytest.raises(IgluParseError) as info:
        parse_self_describing(value)
    assert info.value.code == code


@given(_near)
def test_parse_self_describing_codes_follow_the_grammar(tail: str) -> None:
    """A schema string is accepted iff it is a valid URI; else SCHEMAVER iff only the version segment is at fault."""
    uri = "iglu:" + tail
    try:
        parse_self_describing({"schema": uri, "data": None})
        code = None
    except IgluParseError as e:
        code = e.code
    if re.fullmatch(REF_URI, uri):
        assert code is None
    elif re.fullmatch(rf"iglu:{REF_VENDOR}/{REF_NAME}/{REF_FORMAT}/[^/]*", uri):
        assert code == "INVALID_SCHEMAVER"
    else:
        assert code == "INVALID_IGLUURI"


@pytest.mark.parametrize(
    "vendor",
    ["..", ".", "...", ".meta", ".hidden.vendor", "%2e%2e", "a/..", "../x", "com.acme/../..", "", "com acme", "é"],
)
def test_schema_key_refuses_traversal_and_foreign_vendors(vendor: str) -> None:
    """A vendor of dots, starting with a dot, holding a slash or outside Iglu's characters is refused everywhere."""
    version = SchemaVer(1, 0, 0)
    for build in (
        lambda: SchemaKey.parse(f"iglu:{vendor}/p11/jsonschema/1-0-0"),
        lambda: SchemaKey.parse_path(f"{vendor}/p11/jsonschema/1-0-0"),
        lambda: SchemaKey(vendor, "p11", "jsonschema", version),
        lambda: SchemaCriterion.parse(f"iglu:{vendor}/p11/jsonschema/1-*-*"),
    ):
        with pytest.raises(IgluParseError):
            build()
    with pytest.raises(IgluParseError, match=r"invalid Iglu URI") as caught:
        parse_self_describing({"schema": f"iglu:{vendor}/p11/jsonschema/1-0-0", "data": {}})
    assert caught.value.code == "INVALID_IGLUURI"


def test_schema_key_errors_name_the_faulty_part() -> None:
    """The refusal says which part is wrong and why, so an API can answer it as a 4xx message."""
    with pytest.raises(IgluParseError, match=r"vendor '\.\.' must be .*never '\.' or '\.\.'"):
        SchemaKey.parse("iglu:../p11/jsonschema/1-0-0")
    with pytest.raises(IgluParseError, match=r"name '\.\.' must be letters"):
        SchemaKey("com.acme", "..", "jsonschema", SchemaVer(1, 0, 0))
    with pytest.raises(IgluParseError, match=r"format '\.' must be letters"):
        SchemaKey.parse_path("com.acme/x/./1-0-0")
    # The mypyc build refuses the wrong type itself (TypeError) before __post_init__ can.
    with pytest.raises((IgluParseError, TypeError), match="SchemaVer"):
        SchemaKey("com.acme", "x", "jsonschema", "1-0-0")  # type: ignore[arg-type]  # a string, not a SchemaVer


_pieces = st.sampled_from([".", "..", "/", "%2e", "\\", "a", "b-c", "_", "com.acme"])


@given(
    st.lists(_pieces, min_size=1, max_size=4).map("".join),
    st.lists(_pieces, min_size=1, max_size=3).map("".join),
    st.sampled_from(["jsonschema", ".", "..", "a.b", "x"]),
)
def test_no_parsed_schema_key_names_a_path_outside_its_root(vendor: str, name: str, format_: str) -> None:
    """Whatever the parts, a key that parses names a file strictly inside the folder it is joined to."""
    root = Path("/srv/registry")
    for text in (f"iglu:{vendor}/{name}/{format_}/1-0-0", f"{vendor}/{name}/{format_}/1-0-0"):
        try:
            key = SchemaKey.parse(text) if text.startswith("iglu:") else SchemaKey.parse_path(text)
        except IgluParseError:
            continue
        joined = (root / key.path).resolve()
        assert joined.is_relative_to(root) and joined != root and len(joined.relative_to(root).parts) == 4
        assert contained(root, key.path) == joined
        assert all(part not in (".", "..") and not part.startswith(".") for part in key.path.split("/"))
