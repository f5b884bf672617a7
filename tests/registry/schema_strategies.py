"""Hypothesis strategies for the differential test: varied draft-04 schemas and schema-guided instances."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["TRICKY_SCALARS", "draft4_schemas", "instances_for", "json_values"]

# Values where Python's equality and JSON Schema's disagree (True == 1, 1 == 1.0, -0.0 == 0) or
# that sit on common boundaries.
TRICKY_SCALARS: list[Any] = [True, False, 0, 1, -1, 0.0, 1.0, -0.0, 1.5, 2**53, 10**20, "", "1", "true", None]

FORMATS = ["date-time", "date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uuid", "regex", "color"]
FORMAT_SAMPLES = [
    "2026-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01",
    "12:00:00Z",
    "a@b.com",
    "a@b",
    "example.com",
    "-bad-.com",
    "127.0.0.1",
    "256.0.0.1",
    "01.2.3.4",
    "::1",
    "1::2::3",
    "http://x.y/z",
    "not a uri",
    "c3f9b2a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "([a-z]",
    "[a-z]+",
]
PATTERNS = ["^[a-z]+$", "^\\d{3}$", "x", "^$", "^[A-Z][a-z]*\\s?$", "\\.", "^.{2,4}$"]
NAMES = ["a", "b", "c", "price", "items", "sku", "odd key", "ü"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(TRICKY_SCALARS + FORMAT_SAMPLES),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=12,
)

TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]


def _leaf_keywords() -> st.SearchStrategy[dict[str, Any]]:
    numbers = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 1.5, 2.5, 0.1, 10**20]))
    positive = st.one_of(st.integers(1, 5), st.sampled_from([0.5, 0.1, 2.5]))
    small = st.integers(0, 4)
    choices: dict[str, st.SearchStrategy[Any]] = {
        "type": st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
        "enum": st.lists(json_scalars | st.sampled_from(TRICKY_SCALARS), min_size=1, max_size=4, unique_by=repr),
        "minimum": numbers,
        "maximum": numbers,
        "exclusiveMinimum": st.booleans(),
        "exclusiveMaximum": st.booleans(),
        "multipleOf": positive,
        "minLength": small,
        "maxLength": small,
        "pattern": st.sampled_from(PATTERNS),
        "format": st.sampled_from(FORMATS),
        "minItems": small,
        "maxItems": small,
        "uniqueItems": st.booleans(),
        "minProperties": small,
        "maxProperties": small,
    }
    return st.fixed_dictionaries({}, optional=choices)


def draft4_schemas(max_depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Draft-04 schemas mixing type, numeric, string, array, object and combinator keywords."""

    def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        names = st.sampled_from(NAMES)
        structural: dict[str, st.SearchStrategy[Any]] = {
            "properties": st.dictionaries(names, children, max_size=3),
            "required": st.lists(names, min_size=1, max_size=3, unique=True),
            "additionalProperties": st.booleans() | children,
            "patternProperties": st.dictionaries(st.sampled_from(PATTERNS), children, max_size=2),
            "dependencies": st.dictionaries(
                names, children | st.lists(names, min_size=1, max_size=2, unique=True), max_size=2
            ),
            "items": children | st.lists(children, min_size=1, max_size=3),
            "additionalItems": st.booleans() | children,
            "allOf": st.lists(children, min_size=1, max_size=2),
            "anyOf": st.lists(children, min_size=1, max_size=2),
            "oneOf": st.lists(children, min_size=1, max_size=2),
            "not": children,
        }
        return st.builds(lambda a, b: {**a, **b}, _leaf_keywords(), st.fixed_dictionaries({}, optional=structural))

    return st.recursive(_leaf_keywords(), extend, max_leaves=6)


def instances_for(schema: Any, depth: int = 0, *, noise: bool = True) -> st.SearchStrategy[Any]:
    """Values shaped by `schema` (types, enums, properties, items, formats); `noise` mixes arbitrary JSON in.

    Without noise most draws of a realistic schema are valid, so both verdicts get exercised.
    """
    if noise and depth == 0:
        return st.one_of(_intended(schema, 0), _instances(schema, 0, noise=True))
    return _instances(schema, depth, noise=noise)


VALID_FORMAT_SAMPLES = {
    "date-time": ["2026-01-01T00:00:00Z", "2026-01-01T12:30:00.123+02:00"],
    "date": ["2026-01-01"],
    "time": ["12:00:00Z"],
    "email": ["a@b.com"],
    "hostname": ["example.com"],
    "ipv4": ["127.0.0.1"],
    "ipv6": ["::1"],
    "uri": ["http://x.y/z"],
    "uuid": ["c3f9b2a8-1c2d-4e5f-8a9b-0c1d2e3f4a5b"],
    "regex": ["[a-z]+"],
}


def _intended(schema: Any, depth: int) -> st.SearchStrategy[Any]:
    """What a tracker that follows `schema` would send: required fields, declared types, bounds, formats."""
    if not isinstance(schema, dict) or depth > 6:
        return json_values
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    for combinator in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(combinator)
        if isinstance(subs, list) and subs and combinator != "allOf":
            return st.one_of([_intended({**schema, combinator: None, **sub}, depth + 1) for sub in subs])
    types = schema.get("type")
    types = types if isinstance(types, list) else [types] if isinstance(types, str) else []
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if not types:
        types = ["object"] if props or "required" in schema else ["array"] if "items" in schema else []
    if not types:
        return json_values
    options: list[st.SearchStrategy[Any]] = []
    for kind in types:
        if kind == "object":
            required = [n for n in schema.get("required", []) if isinstance(n, str)]
            fields = {name: _intended(sub, depth + 1) for name, sub in props.items()}
            must = {name: fields.get(name, json_values) for name in required}
            optional = {name: strategy for name, strategy in fields.items() if name not in must}
            options.append(st.fixed_dictionaries(must, optional=optional))
        elif kind == "array":
            items = schema.get("items")
            low = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
            high = schema.get("maxItems", low + 3) if isinstance(schema.get("maxItems"), int) else low + 3
            element = _intended(items, depth + 1) if isinstance(items, dict) else json_values
            options.append(st.lists(element, min_size=low, max_size=max(low, min(high, low + 3))))
        elif kind == "string":
            fmt, pattern = schema.get("format"), schema.get("pattern")
            if fmt in VALID_FORMAT_SAMPLES:
                options.append(st.sampled_from(VALID_FORMAT_SAMPLES[fmt]))
            elif isinstance(pattern, str):
                options.append(st.from_regex(pattern, fullmatch=True))
            else:
                low = schema.get("minLength", 0) if isinstance(schema.get("minLength"), int) else 0
                high = schema.get("maxLength", low + 8) if isinstance(schema.get("maxLength"), int) else low + 8
                options.append(st.text(min_size=low, max_size=max(low, min(high, low + 8))))
        elif kind in ("integer", "number"):
            low, high = schema.get("minimum"), schema.get("maximum")
            low = low if isinstance(low, (int, float)) else -1000
            high = high if isinstance(high, (int, float)) else low + 2000
            if float(high) - float(low) < 2:
                options.append(st.sampled_from([low, high]))
            elif kind == "integer":
                options.append(st.integers(int(low) + 1, max(int(low) + 1, int(high) - 1)))
            else:
                options.append(st.floats(float(low), float(high), exclude_min=True, exclude_max=True))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
    return st.one_of(options) if options else json_values


def _instances(schema: Any, depth: int, *, noise: bool) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict) or depth > 6:
        return json_values
    options: list[st.SearchStrategy[Any]] = [json_values] if noise else []
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        options.append(st.sampled_from(schema["enum"]))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(combinator, []) if isinstance(schema.get(combinator), list) else []:
            options.append(_instances(sub, depth + 1, noise=noise))
    types = schema.get("type")
    types = types if isinstance(types, list) else [types] if isinstance(types, str) else []
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if props or "object" in types or "required" in schema:
        required = [n for n in schema.get("required", []) if isinstance(n, str)]
        fields = {name: _instances(sub, depth + 1, noise=noise) for name, sub in props.items()}
        fields.update({name: json_values for name in required if name not in fields})
        extra = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=2 if noise else 0)
        options.append(
            st.builds(
                lambda base, more, keep: {**more, **{k: v for k, v in base.items() if k in keep}},
                st.fixed_dictionaries({}, optional=fields),
                extra,
                st.sets(st.sampled_from([*fields, "_"])),
            )
        )
        options.append(st.fixed_dictionaries(fields))
    items = schema.get("items")
    if items is not None or "array" in types:
        if isinstance(items, list):
            options.append(st.tuples(*(_instances(sub, depth + 1, noise=noise) for sub in items)).map(list))
        element = _instances(items, depth + 1, noise=noise) if isinstance(items, dict) else json_values
        options.append(st.lists(element, max_size=4))
        if noise:
            options.append(st.lists(st.sampled_from(TRICKY_SCALARS), max_size=4))
    if "string" in types or "format" in schema or "pattern" in schema:
        options.append(st.sampled_from(FORMAT_SAMPLES))
        options.append(
            st.from_regex(schema["pattern"]) if isinstance(schema.get("pattern"), str) else st.text(max_size=6)
        )
    if {"integer", "number"} & set(types) or "minimum" in schema or "maximum" in schema or "multipleOf" in schema:
        options.append(st.integers(-10, 10) if "integer" in types else st.floats(-10, 10))
        if noise:
            options.append(st.sampled_from([v for v in TRICKY_SCALARS if isinstance(v, (int, float))]))
        for bound in ("minimum", "maximum", "multipleOf"):
            if isinstance(schema.get(bound), (int, float)):
                b = schema[bound]
                options.append(st.sampled_from([b, b + 1, b - 1, b * 2, b + 0.5, float(b)]))
    if "null" in types:
        options.append(st.none())
    if "boolean" in types:
        options.append(st.booleans())
    return st.one_of(options) if options else json_values
