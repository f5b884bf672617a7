"""The JSONPath subset of PII configs: compilation, selection, and in-place replacement of strings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from enrich.enrichments.json_path import compile_path

DOC: dict[str, Any] = {
    "email": "a@x.com",
    "user": {"name": "Ann", "tags": ["t1", "t2"], "age": 40},
    "items": [{"sku": "s1", "email": "b@x.com"}, {"sku": "s2"}],
    "odd key": "v",
}


def _upper(path: str, doc: Any) -> tuple[Any, list[tuple[str, str]]]:
    copy = json.loads(json.dumps(doc))
    changes = compile_path(path).replace_strings(copy, str.upper)
    return copy, changes


@pytest.mark.parametrize(
    ("path", "changed"),
    [
        ("$.email", [("a@x.com", "A@X.COM")]),
        ("$.user.name", [("Ann", "ANN")]),
        ("$.user.tags[1]", [("t2", "T2")]),
        ("$.user.tags[-1]", [("t2", "T2")]),
        ("$.user.tags[*]", [("t1", "T1"), ("t2", "T2")]),
        ("$.items[*].sku", [("s1", "S1"), ("s2", "S2")]),
        ("$['odd key']", [("v", "V")]),
        ("$..email", [("a@x.com", "A@X.COM"), ("b@x.com", "B@X.COM")]),
        ("$.user.age", []),  # numbers are left alone
        ("$.missing.deeper", []),
        ("$.user.tags[5]", []),
    ],
)
def test_paths_select_and_replace_strings(path: str, changed: list[tuple[str, str]]) -> None:
    """Each supported form reaches exactly the strings it names and rewrites them in place."""
    doc, changes = _upper(path, DOC)
    assert changes == changed
    text = json.dumps(doc)
    for original, new in changed:
        assert new in text and f'"{original}"' not in text


@pytest.mark.parametrize("path", ["email", "$.a[?(@.x)]", "$.a[1:2]", "$.", "$[a]"])
def test_unsupported_paths_are_config_errors(path: str) -> None:
    """Paths outside the subset fail at config load instead of silently matching nothing."""
    with pytest.raises(ConfigError):
        compile_path(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["k", "email", "x"]), inner, max_size=3)
    ),
    max_leaves=20,
)


def _strings_under(node: Any, key: str) -> int:
    if isinstance(node, dict):
        return sum((1 if k == key and isinstance(v, str) else 0) + _strings_under(v, key) for k, v in node.items())
    if isinstance(node, list):
        return sum(_strings_under(v, key) for v in node)
    return 0


@given(_json)
def test_deep_scan_rewrites_every_string_under_the_key(doc: Any) -> None:
    """`$..email` changes exactly the string values of `email` keys at any depth, and nothing else."""
    expected = _strings_under(doc, "email")
    copy = json.loads(json.dumps(doc))
    changes = compile_path("$..email").replace_strings(copy, lambda s: "#" + s)
    assert len(changes) == expected
    assert _strings_under(copy, "email") == expected
    if expected == 0:
        assert copy == doc


_PATHS = ["$", "$.k", "$.email", "$.k.email", "$.k[0]", "$.x[-1].k", "$[1]", "$.k[*]", "$..email", "$.*", "$['x'][0]"]


@given(_json, st.sampled_from(_PATHS))
def test_replaced_is_replace_strings_on_a_copy_and_leaves_the_document_alone(doc: Any, path: str) -> None:
    """`replaced` gives what `replace_strings` does to a private copy, and never changes (shared) input."""
    before = json.dumps(doc)
    copy = json.loads(before)
    compiled = compile_path(path)
    expected_changes = compiled.replace_strings(copy, lambda s: "#" + s)
    result, changes = compiled.replaced(doc, lambda s: "#" + s)
    assert (result, changes) == (copy, expected_changes)
    assert json.dumps(doc) == before
