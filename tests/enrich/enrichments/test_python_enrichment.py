"""Users' own Python enrichments, written outside the package as a user would: loaded from a file a config names or
from an installed entry point, run with the built-ins' context, and every way they can go wrong reported.

`make test` runs this module against the editable source and against the installed compiled wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import enrich.enrichments.base
from core.badrows import EnrichmentFailures
from core.errors import ConfigError
from core.locations import BUNDLED_SCHEMAS
from enrich.enrichments.base import BuiltInEnrichment, Enrichment
from enrich.enrichments.registry import load_enrichments
from enrich.outcome import Good, Outcome
from enrich.pipeline import enrich_payload
from registry.resolver import Resolver
from registry.validation import Validator
from tests.enrich.enrichments.events import payload
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env
from tests.enrich.processes import EventkitProcess, free_port

CONFIG = "iglu:io.eventkit/python_enrichment_config/jsonschema/1-0-0"
LOYALTY = "iglu:com.acme/loyalty/jsonschema/1-0-0"
LOYALTY_SCHEMA = {
    "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
    "self": {"vendor": "com.acme", "name": "loyalty", "format": "jsonschema", "version": "1-0-0"},
    "type": "object",
    "properties": {"tier": {"enum": ["gold", "standard"]}, "agent": {"type": ["string", "null"]}},
    "required": ["tier"],
    "additionalProperties": False,
}

# What a user writes: a subclass of the shipped base (the case the compiled build used to refuse), configured through
# its options, reading the request through the context and adding a context of its own schema.
LOYALTY_CLASS = """
from enrich.enrichments.base import BuiltInEnrichment


class LoyaltyTier(BuiltInEnrichment):
    def __init__(self, options):
        self.prefix = options["vipPrefix"]

    def enrich(self, event, ctx):
        tier = "gold" if (ctx.params.get("uid") or "").startswith(self.prefix) else "standard"
        if ctx.params.get("tr_id") == "boom":
            raise ValueError("loyalty service returned garbage")
        if ctx.params.get("tr_id") == "bad-tier":
            tier = "platinum"
        event.mkt_campaign = f"{self.identifier}:{tier}"
        data = {"tier": tier, "agent": ctx.header("User-Agent")}
        ctx.add_derived_context({"schema": "iglu:com.acme/loyalty/jsonschema/1-0-0", "data": data})
"""

VIP = {"uid": "vip-7"}


def _environment(tmp_path: Path) -> tuple[Path, Resolver]:
    """An enrichments folder and a registry holding the user's context schema (then the bundled ones)."""
    schemas = tmp_path / "schemas"
    target = schemas / "com.acme" / "loyalty" / "jsonschema" / "1-0-0"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(LOYALTY_SCHEMA))
    folder = tmp_path / "enrichments"
    folder.mkdir()
    return folder, Resolver.from_locations([str(schemas), str(BUNDLED_SCHEMAS)])


def _configure(folder: Path, parameters: dict[str, Any], name: str = "loyalty", file_name: str = "") -> Path:
    document = {
        "schema": CONFIG,
        "data": {"vendor": "com.acme", "name": name, "enabled": True, "parameters": parameters},
    }
    path = folder / (file_name or f"{name}.json")
    path.write_text(json.dumps(document))
    return path


def _run(chain: list[Enrichment], resolver: Resolver, params: dict[str, str], **headers: str) -> Outcome:
    env = make_env(validator=Validator(resolver), enrichments=tuple(chain))
    lines = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    (outcome,) = enrich_payload(payload(params, headers=lines), env, ETL_TSTAMP)
    return outcome


def _loyalty_chain(tmp_path: Path, source: str = LOYALTY_CLASS) -> tuple[list[Enrichment], Resolver]:
    folder, resolver = _environment(tmp_path)
    (folder / "loyalty.py").write_text(source)
    parameters = {"file": "loyalty.py", "class": "LoyaltyTier", "schema": LOYALTY, "options": {"vipPrefix": "vip-"}}
    _configure(folder, parameters)
    return load_enrichments(folder, resolver), resolver


def _derived(outcome: Outcome) -> list[dict[str, Any]]:
    assert isinstance(outcome, Good), outcome
    column = outcome.event.derived_contexts
    return json.loads(column)["data"] if column else []


def test_the_build_under_test_is_the_one_expected() -> None:
    """The compiled leg of `make test` (EVENTKIT_EXPECT_COMPILED=1) runs compiled modules, the other the source."""
    compiled = os.environ.get("EVENTKIT_EXPECT_COMPILED") == "1"
    assert enrich.enrichments.base.__file__ is not None
    assert enrich.enrichments.base.__file__.endswith(".so") is compiled, enrich.enrichments.base.__file__


def test_a_class_in_a_user_file_subclassing_the_builtin_base_enriches_events(tmp_path: Path) -> None:
    """The user's BuiltInEnrichment subclass is made with its options, reads params and headers, sets a field and
    adds a context of its schema, which is validated and kept."""
    chain, resolver = _loyalty_chain(tmp_path)
    (enrichment,) = chain
    assert enrichment.identifier == "loyalty"
    outcome = _run(chain, resolver, VIP, User_Agent="Mozilla/5.0 test")
    assert isinstance(outcome, Good)
    assert outcome.event.mkt_campaign == "loyalty:gold"  # the user's object knows its name, as the built-ins do
    assert {"schema": LOYALTY, "data": {"tier": "gold", "agent": "Mozilla/5.0 test"}} in _derived(outcome)
    assert issubclass(type(_user_object(enrichment)), BuiltInEnrichment)


def _user_object(enrichment: Enrichment) -> object:
    call = enrichment._call  # type: ignore[attr-defined]
    return call.__self__


def test_a_function_in_a_user_file_enriches_events(tmp_path: Path) -> None:
    """A plain function(event, ctx) named by `function` runs per event with the same context."""
    folder, resolver = _environment(tmp_path)
    (folder / "tiers.py").write_text(
        textwrap.dedent(
            """
            def tier(event, ctx):
                query = dict(ctx.page_query)
                ctx.add_derived_context({"schema": "iglu:com.acme/loyalty/jsonschema/1-0-0",
                                         "data": {"tier": query.get("tier", "standard")}})
            """
        )
    )
    _configure(folder, {"file": "tiers.py", "function": "tier", "schema": LOYALTY})
    outcome = _run(load_enrichments(folder, resolver), resolver, {"url": "https://shop.example/?tier=gold"})
    assert {"schema": LOYALTY, "data": {"tier": "gold"}} in _derived(outcome)


def test_an_installed_entry_point_is_an_enrichment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution declaring `eventkit.enrichments` entry points provides a class or a function by name."""
    site = tmp_path / "site"
    (site / "acme_loyalty-1.0.dist-info").mkdir(parents=True)
    (site / "acme_loyalty-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-loyalty\n")
    (site / "acme_loyalty-1.0.dist-info" / "entry_points.txt").write_text(
        "[eventkit.enrichments]\nacme-loyalty = acme_loyalty:LoyaltyTier\n"
    )
    (site / "acme_loyalty.py").write_text(LOYALTY_CLASS)
    monkeypatch.syspath_prepend(str(site))
    folder, resolver = _environment(tmp_path)
    _configure(folder, {"entryPoint": "acme-loyalty", "schema": LOYALTY, "options": {"vipPrefix": "v"}})
    outcome = _run(load_enrichments(folder, resolver), resolver, VIP)
    assert {"schema": LOYALTY, "data": {"tier": "gold", "agent": None}} in _derived(outcome)
    _configure(folder, {"entryPoint": "acme-missing", "schema": LOYALTY})
    with pytest.raises(ConfigError, match=r"no entry point 'acme-missing' .*installed: acme-loyalty"):
        load_enrichments(folder, resolver)


def _failure(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, EnrichmentFailures), outcome
    (message,) = outcome.messages
    assert message.enrichment is not None
    assert message.enrichment.identifier == "loyalty"
    assert message.enrichment.schema_key.uri == CONFIG
    return message.message.to_json()


def test_an_exception_per_event_is_an_enrichment_failure_of_that_event_only(tmp_path: Path) -> None:
    """Raising becomes that event's enrichment_failures bad row naming the enrichment; the next event is good."""
    chain, resolver = _loyalty_chain(tmp_path)
    assert _failure(_run(chain, resolver, {**VIP, "tr_id": "boom"})) == {
        "error": "ValueError: loyalty service returned garbage"
    }
    assert isinstance(_run(chain, resolver, VIP), Good)


def test_a_context_failing_its_schema_is_an_enrichment_failure(tmp_path: Path) -> None:
    """A context the schema refuses is reported as an Iglu error of the user's enrichment (not a schema violation),
    and the bad row shows the context as the code made it."""
    chain, resolver = _loyalty_chain(tmp_path)
    outcome = _run(chain, resolver, {**VIP, "tr_id": "bad-tier"})
    message = _failure(outcome)
    assert message["schemaKey"] == LOYALTY
    assert message["error"]["error"] == "ValidationError"
    assert [(r["path"], r["keyword"]) for r in message["error"]["dataReports"]] == [("$.tier", "enum")]
    assert isinstance(outcome, EnrichmentFailures)
    assert '"tier":"platinum"' in outcome.payload.to_json()["enriched"]["derived_contexts"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            'ctx.add_derived_context({"schema": "iglu:com.acme/other/jsonschema/1-0-0", "data": {}})',
            "added a derived context with schema 'iglu:com.acme/other/jsonschema/1-0-0'; expected {schema: "
            "'iglu:com.acme/loyalty/jsonschema/1-0-0', data}",
        ),
        # Compiled, add_derived_context refuses a non-dict itself ("TypeError: dict object expected; got list").
        ('ctx.add_derived_context(["not", "an", "entity"])', "list"),
        ("event.mkt_campaign = 42", "set mkt_campaign to a int; it holds str"),
        ("event.dvce_created_tstamp = True", "set dvce_created_tstamp to a bool; it holds int"),
        ('event.contexts = "[]"', "set contexts, which the pipeline writes"),
        ('return [{"schema": "iglu:com.acme/loyalty/jsonschema/1-0-0"}]', "returned a list; an enrichment returns"),
        ("return 'ok'", "returned a str; an enrichment returns None"),
    ],
    ids=[
        "other-schema",
        "not-an-entity",
        "int-in-str",
        "bool-in-ts",
        "json-column",
        "returns-contexts",
        "returns-str",
    ],
)
def test_what_user_code_must_not_do_is_an_enrichment_failure(tmp_path: Path, body: str, fragment: str) -> None:
    """Wrong contexts, atomic fields of the wrong kind, the pipeline's JSON columns and odd return values are each
    reported as the user enrichment's failure (so nothing of the kind reaches the lake)."""
    folder, resolver = _environment(tmp_path)
    (folder / "bad.py").write_text(f"def enrich(event, ctx):\n    {body}\n")
    _configure(folder, {"file": "bad.py", "function": "enrich", "schema": LOYALTY})
    message = _failure(_run(load_enrichments(folder, resolver), resolver, VIP))
    assert fragment in message["error"]


def test_clearing_the_trackers_entities_is_an_enrichment_failure(tmp_path: Path) -> None:
    """Dropping the event's own unstruct event (a JSON column phase 1 wrote) is refused like any write to it."""
    folder, resolver = _environment(tmp_path)
    (folder / "drop.py").write_text("def enrich(event, ctx):\n    event.unstruct_event = None\n")
    _configure(folder, {"file": "drop.py", "function": "enrich"})
    entity = {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": LOYALTY, "data": {"tier": "gold"}},
    }
    unstruct = {**VIP, "e": "ue", "ue_pr": json.dumps(entity)}
    message = _failure(_run(load_enrichments(folder, resolver), resolver, unstruct))
    assert "set unstruct_event, which the pipeline writes" in message["error"]


def test_failure_messages_returned_as_the_builtins_return_them_are_the_bad_row(tmp_path: Path) -> None:
    """A user enrichment may report a failure as the built-ins do, by returning EnrichmentFailureMessages."""
    folder, resolver = _environment(tmp_path)
    (folder / "reports.py").write_text(
        "from core.badrows import EnrichmentErrorMessage, EnrichmentFailureMessage\n\n"
        "def enrich(event, ctx):\n"
        "    return [EnrichmentFailureMessage(None, EnrichmentErrorMessage('loyalty id unknown'))]\n"
    )
    _configure(folder, {"file": "reports.py", "function": "enrich"})
    outcome = _run(load_enrichments(folder, resolver), resolver, VIP)
    assert isinstance(outcome, EnrichmentFailures)
    assert [m.to_json() for m in outcome.messages] == [{"enrichment": None, "message": {"error": "loyalty id unknown"}}]


def test_the_readme_example_runs_as_documented(tmp_path: Path) -> None:
    """The config and class the README shows, written as they are there, add the loyalty context."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("## Your own enrichments, in Python") :]
    config_text = section[section.index("```json\n") + 8 : section.index("```", section.index("```json\n") + 8)]
    code_start = section.index("```python\n") + 10
    code = section[code_start : section.index("```", code_start)]
    folder, resolver = _environment(tmp_path)
    (folder / "loyalty.json").write_text(config_text)
    (folder / "loyalty.py").write_text(code)
    good = _run(load_enrichments(folder, resolver), resolver, VIP)
    assert isinstance(good, Good)
    assert {"schema": LOYALTY, "data": {"tier": "gold"}} in _derived(good)
    assert good.event.mkt_campaign == "loyalty-gold"


def test_a_context_without_a_configured_schema_is_an_enrichment_failure(tmp_path: Path) -> None:
    """An enrichment whose config names no schema may set fields, but any context it adds is refused."""
    folder, resolver = _environment(tmp_path)
    (folder / "fields.py").write_text(
        "def enrich(event, ctx):\n"
        "    event.mkt_source = 'user'\n"
        "    if ctx.params.get('tr_id'):\n"
        "        sdj = {'schema': 'iglu:com.acme/loyalty/jsonschema/1-0-0', 'data': {'tier': 'gold'}}\n"
        "        ctx.add_derived_context(sdj)\n"
    )
    _configure(folder, {"file": "fields.py", "function": "enrich"})
    chain = load_enrichments(folder, resolver)
    good = _run(chain, resolver, VIP)
    assert isinstance(good, Good)
    assert good.event.mkt_source == "user"
    assert "expected none (no schema configured)" in _failure(_run(chain, resolver, {**VIP, "tr_id": "x"}))["error"]


def test_several_user_enrichments_run_in_the_order_of_their_files(tmp_path: Path) -> None:
    """Two configs of the family (distinct names) both run, the second seeing what the first set; a repeated name
    is refused."""
    folder, resolver = _environment(tmp_path)
    (folder / "steps.py").write_text(
        "def first(event, ctx):\n    event.mkt_term = 'first'\n\n"
        "def second(event, ctx):\n    event.mkt_term += '+second'\n"
    )
    _configure(folder, {"file": "steps.py", "function": "second"}, name="b", file_name="2-second.json")
    _configure(folder, {"file": "steps.py", "function": "first"}, name="a", file_name="1-first.json")
    chain = load_enrichments(folder, resolver)
    assert [e.identifier for e in chain] == ["a", "b"]
    good = _run(chain, resolver, VIP)
    assert isinstance(good, Good)
    assert good.event.mkt_term == "first+second"
    _configure(folder, {"file": "steps.py", "function": "first"}, name="a", file_name="3-again.json")
    with pytest.raises(ConfigError, match=r"3-again.json: a second python_enrichment_config/a config"):
        load_enrichments(folder, resolver)


@pytest.mark.parametrize(
    ("files", "parameters", "fragment"),
    [
        ({}, {"file": "absent.py", "function": "f"}, "absent.py does not exist"),
        ({"broken.py": "def f(event, ctx)\n    pass\n"}, {"file": "broken.py", "function": "f"}, "raised SyntaxError"),
        (
            {"loud.py": "raise RuntimeError('no database')\n"},
            {"file": "loud.py", "function": "f"},
            "loud.py raised RuntimeError on import: no database",
        ),
        ({"quits.py": "import sys\nsys.exit(3)\n"}, {"file": "quits.py", "function": "f"}, "raised SystemExit"),
        (
            {"missing_dep.py": "import acme_not_installed\n"},
            {"file": "missing_dep.py", "function": "f"},
            "raised ModuleNotFoundError on import",
        ),
        ({"m.py": "def g(event, ctx): pass\n"}, {"file": "m.py", "function": "f"}, "defines no 'f' (it defines: g)"),
        ({"m.py": "class C:\n    pass\n"}, {"file": "m.py", "function": "C"}, "m.py: C is a class"),
        ({"m.py": "def f(event, ctx): pass\n"}, {"file": "m.py", "class": "f"}, "m.py: f is not a class"),
        ({"m.py": "def f(event): pass\n"}, {"file": "m.py", "function": "f"}, "must take (event, ctx)"),
        (
            {"m.py": "class C:\n    def __init__(self, options):\n        raise KeyError('url')\n"},
            {"file": "m.py", "class": "C"},
            "C(options) raised KeyError",
        ),
        ({"m.py": "class C:\n    def __init__(self, options): pass\n"}, {"file": "m.py", "class": "C"}, "no enrich"),
        (
            {"m.py": "def f(event, ctx): pass\n"},
            {"file": "m.py", "function": "f", "options": {"a": 1}},
            "options are given to a class",
        ),
        ({}, {"file": "../outside.py", "function": "f"}, "must be a .py file inside"),
        ({}, {"file": "/etc/passwd.py", "function": "f"}, "must be a .py file inside"),
        ({"m.txt": ""}, {"file": "m.txt", "function": "f"}, "must be a .py file inside"),
        ({}, {"file": "m.py", "function": "f", "class": "C"}, "does not validate"),
        ({}, {"function": "f"}, "does not validate"),
    ],
    ids=[
        "missing",
        "syntax",
        "raises-on-import",
        "exits-on-import",
        "import-error",
        "no-such-name",
        "function-is-a-class",
        "class-is-a-function",
        "signature",
        "constructor-raises",
        "no-enrich-method",
        "options-for-function",
        "dot-dot",
        "absolute",
        "not-python",
        "class-and-function",
        "no-file",
    ],
)
def test_code_that_cannot_run_is_a_start_up_config_error_naming_the_config(
    tmp_path: Path, files: dict[str, str], parameters: dict[str, Any], fragment: str
) -> None:
    """Each way a user enrichment cannot run at all is found at start-up, naming the config file."""
    folder, resolver = _environment(tmp_path)
    (tmp_path / "outside.py").write_text("def f(event, ctx): pass\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    config = _configure(folder, parameters)
    with pytest.raises(ConfigError) as caught:
        load_enrichments(folder, resolver)
    assert str(caught.value).startswith(str(config))
    assert fragment in str(caught.value)


def test_eventkit_enrich_refuses_a_broken_user_enrichment_in_one_line(tmp_path: Path) -> None:
    """`eventkit enrich --enrichments DIR` with user code raising on import exits 2 with one line naming the file."""
    folder, _ = _environment(tmp_path)
    (folder / "loyalty.py").write_text("raise RuntimeError('no database')\n")
    config = _configure(folder, {"file": "loyalty.py", "function": "f"})
    result = subprocess.run(
        [
            *(sys.executable, "-c", "from core.cli import main; main()", "enrich"),
            *("--raw", f"sqlite:///{tmp_path / 'queue.db'}", "--lake", str(tmp_path / "lake")),
            *("--registry", str(tmp_path / "schemas"), "--enrichments", str(folder)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: {config}: loyalty.py raised RuntimeError on import: no database"


@pytest.mark.slow
def test_eventkit_up_runs_a_user_enrichment_from_its_enrichments_folder(tmp_path: Path) -> None:
    """`eventkit up` (real uvicorn, the build under test) loads the user's class from --enrichments: a page view comes
    out good in Micro with the user's context, and one the code raises on as an enrichment_failures row naming it."""
    folder, _ = _environment(tmp_path)
    (folder / "loyalty.py").write_text(LOYALTY_CLASS)
    _configure(folder, {"file": "loyalty.py", "class": "LoyaltyTier", "schema": LOYALTY, "options": {"vipPrefix": "v"}})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["up", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--registry", str(tmp_path / "schemas")]
    proc = EventkitProcess([*args, "--enrichments", str(folder)], tmp_path / "up.log")
    try:
        proc.wait_http(f"{base}/health")
        for extra in ({}, {"tr_id": "boom"}):
            page_view = {"e": "pv", "p": "web", "tv": "js-4.10.1", "uid": "vip-7", **extra}
            assert httpx.get(f"{base}/i", params=page_view).status_code == 200
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/micro/all").json()["total"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        (good,) = httpx.get(f"{base}/micro/good").json()
        assert '"tier": "gold"' in json.dumps(good["event"]), good
        (bad,) = httpx.get(f"{base}/micro/bad").json()
        row = json.loads(bad["errors"][0])
        assert row["schema"].startswith("iglu:com.snowplowanalytics.snowplow.badrows/enrichment_failures/")
        (message,) = row["data"]["failure"]["messages"]
        assert message["enrichment"]["identifier"] == "loyalty"
        assert message["message"] == {"error": "ValueError: loyalty service returned garbage"}
    finally:
        assert proc.terminate() == 0, proc.log()
