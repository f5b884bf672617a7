"""The one JSONPath (core/json_path.py): parsing, finding and editing for fix steps, rewriting strings for PII."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.json_path import JsonPath, JsonPathError, compile_path

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


# -- reading and editing, as fix steps use them ---------------------------------------------------

FIX_DOC: dict[str, Any] = {
    "a": {"b": [1, 2, 3], "odd key": "x"},
    "items": [
        {"schema": "iglu:com.acme/x/jsonschema/1-0-0", "n": 1},
        {"schema": "iglu:com.other/y/jsonschema/1-0-0", "n": 2},
    ],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.b[0]", [1]),
        ("$.a.b[-1]", [3]),
        ("$.a.b[*]", [1, 2, 3]),
        ("$.a['odd key']", ["x"]),
        ('$.a["odd key"]', ["x"]),
        ("$.items[?(@.schema =~ iglu:com.acme/.*)].n", [1]),
        ("$.items.[?(@.schema=~'iglu:com\\.other/.*')].n", [2]),
        ("$.items[?(@.n == 2)].schema", ["iglu:com.other/y/jsonschema/1-0-0"]),
        ("$.items[*].n", [1, 2]),
        ("$.missing.x", []),
        ("$.a.b[7]", []),
        ("$", [FIX_DOC]),
    ],
)
def test_fix_paths_find_values(path: str, expected: list[Any]) -> None:
    """The supported JSONPath forms reach the values they name, and nothing for paths that do not exist."""
    assert JsonPath.parse(path).values(FIX_DOC) == expected


@pytest.mark.parametrize("path", ["a.b", "$.", "$[", "$.a[x]", "$[?(@.a ~ 1)]", "$[?(@.a =~ ([)]"])
def test_bad_paths_are_refused_with_a_reason(path: str) -> None:
    """A malformed path is a ValueError naming the path (the fix file's loader turns it into ConfigError)."""
    with pytest.raises(ValueError, match=r"path|regex"):
        JsonPath.parse(path)


def test_set_remove_add_change_the_document() -> None:
    """set replaces every match, remove deletes (list elements from the back), add creates missing objects."""
    doc = json.loads(json.dumps(FIX_DOC))
    assert JsonPath.parse("$.items[*].n").set(doc, 0) == 2
    assert JsonPath.parse("$.a.b[?(@ == 2)]").remove(doc) == 1  # `@` alone is the element itself
    assert doc["a"]["b"] == [1, 3]
    assert JsonPath.parse("$.a.b[*]").remove(doc) == 2
    assert JsonPath.parse("$.new.deep.key").add(doc, True) == 1
    assert doc["items"][0]["n"] == 0 and doc["a"]["b"] == [] and doc["new"] == {"deep": {"key": True}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="abc .-_'", min_size=1, max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values)
def test_every_found_location_has_an_exact_path_back_to_it(doc: Any) -> None:
    """For every value reachable in a document, the concrete path JsonPath reports finds exactly that value again."""
    frontier = [JsonPath.parse("$").find(doc)[0]]
    while frontier:
        loc = frontier.pop()
        if loc.container is not None:
            assert loc.exact().values(doc) == [loc.value]
        if isinstance(loc.value, dict | list):
            frontier.extend(JsonPath(loc.path, (*loc.exact().segments, JsonPath.parse("$[*]").segments[0])).find(doc))


# -- the union: one syntax for both users, one selection for both ways of walking ------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$..email", ["a@x.com", "b@x.com"]),
        ("$.items[?(@.sku == 's1')].email", ["b@x.com"]),
        ("$.items.[?(@.sku =~ s.)].sku", ["s1", "s2"]),
        ('$["odd key"]', ["v"]),
        ("$.user.tags[ 0 ]", ["t1"]),
    ],
)
def test_each_users_syntax_works_for_the_other(path: str, expected: list[Any]) -> None:
    """Deep scans (PII configs) find values for fix steps; filters and `.[` (fix steps) select strings for PII."""
    assert JsonPath.parse(path).values(DOC) == expected
    _, changes = _upper(path, DOC)
    assert [original for original, _ in changes] == expected


@pytest.mark.parametrize(("path", "name"), [("$.0day", "0day"), ("$.a:b", "a:b"), ("$.@id", "@id"), ("$.café", "café")])
def test_bare_names_are_the_union_of_both_alphabets(path: str, name: str) -> None:
    """A bare name may start with a digit or hold `@`/`:` (fix steps) and letters of any script (PII configs)."""
    assert JsonPath.parse(path).values({name: "x"}) == ["x"]
    assert compile_path(path).replaced({name: "x"}, str.upper) == ({name: "X"}, [("x", "X")])


def test_config_and_program_errors_say_where_the_path_leaves_the_syntax() -> None:
    """parse raises JsonPathError (a ValueError); compile_path the ConfigError a config file reports, same reason."""
    with pytest.raises(JsonPathError, match=r"path '\$\.a\[x\]': 'x' is not an index") as raised:
        JsonPath.parse("$.a[x]")
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ConfigError, match=r"^jsonPath '\$\.\.': expected a name after \.\. at position 3$"):
        compile_path("$..")


_WALKED = [*_PATHS, "$.k[?(@.x == 1)]", "$[?(@ =~ '.*')]", "$..k", "$..email[*]", "$.*[?(@.k == 'a')].x"]


@given(_json, st.sampled_from(_WALKED))
def test_find_and_replace_strings_select_the_same_strings(doc: Any, path: str) -> None:
    """The strings `find` reports (below the root) are exactly those `replace_strings` rewrites, in the same order."""
    compiled = JsonPath.parse(path)
    found = [loc.value for loc in compiled.find(doc) if loc.container is not None and isinstance(loc.value, str)]
    copy = json.loads(json.dumps(doc))
    assert [original for original, _ in compiled.replace_strings(copy, lambda s: "#" + s)] == found
