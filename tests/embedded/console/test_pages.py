"""The console's pages over a real in-process `up`: what each shows, that it agrees with /micro and the lake,
and that attacker-controlled values are escaped everywhere."""

from __future__ import annotations

import html
import json
import re
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlencode

from core.lake.local import LocalLake
from embedded.console.badrows import BadRowCache, summary
from embedded.console.security import CSRF_COOKIE
from loader.selection import read_bad_rows
from tests.embedded.console.conftest import Console
from tests.embedded.console.rig import HOSTILE


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', page)]


def _count(page: str, name: str) -> int:
    m = re.search(rf'data-count="{name}">(\d+)<', page)
    assert m is not None, f"no {name} count in the header"
    return int(m.group(1))


def _main(page: str) -> str:
    return page[page.index("<main") : page.index("</main>")]


def test_live_events_are_newest_first_and_the_header_agrees_with_micro_all(console: Console) -> None:
    """`/` leads to the live list: every stored event, newest first, with good/bad/total equal to /micro/all."""
    c = console.client
    page = c.get("/")
    assert page.status_code == 200 and page.url.path == "/console/events"
    ids = _ids(page.text)
    micro = c.get("/micro/all").json()
    assert len(ids) == micro["total"] == len(console.traffic.good) + len(console.traffic.bad)
    assert ids == sorted(ids, reverse=True)
    assert {k: _count(page.text, k) for k in ("good", "bad", "total")} == micro
    assert page.text.count('class="badge good"') == micro["good"]
    assert page.text.count('class="badge bad"') == micro["bad"]


def test_filters_by_app_event_schema_validity_time_and_text(console: Console) -> None:
    """Each filter narrows the list to what it names; a time the console cannot read is a 400 naming the forms."""
    c = console.client

    def rows(**params: str) -> list[int]:
        response = c.get("/console/events?" + urlencode(params))
        assert response.status_code == 200, response.text
        return _ids(response.text)

    good, bad = len(console.traffic.good), len(console.traffic.bad)
    assert len(rows(validity="good")) == good and len(rows(validity="bad")) == bad
    assert len(rows(app="other")) == 2
    assert len(rows(event="page_view")) == 4
    assert len(rows(schema="com.acme/checkout")) == 3  # one good checkout, two refused ones
    assert len(rows(schema="iglu:com.acme/checkout/jsonschema/1-0-0", validity="good")) == 1
    assert len(rows(q=console.traffic.good[1])) == 1
    assert len(rows(q="shop.example.com/p/")) == 3
    assert len(rows(since="1h")) == good + bad and rows(until="1h") == []
    refused = c.get("/console/events?since=yesterday-ish")
    assert refused.status_code == 400 and "accepted forms" in refused.text


def test_polling_returns_only_newer_rows_and_the_counts(console: Console) -> None:
    """The polling endpoint answers rows newer than `after` (as escaped HTML) and /micro/all's counts."""
    c = console.client
    newest = _ids(c.get("/console/events").text)
    data = c.get(f"/console/events/rows?after={newest[0]}").json()
    assert data["rows"] == 0 and data["last_id"] == newest[0]
    assert data["counts"] == c.get("/micro/all").json()
    data = c.get(f"/console/events/rows?after={newest[3]}&validity=bad").json()
    assert data["last_id"] == newest[0]
    assert _ids(data["html"]) == newest[: data["rows"]] and 1 <= data["rows"] <= 3
    assert HOSTILE not in data["html"]


def test_one_good_event_groups_fields_explains_derived_tstamp_and_decodes_entities(console: Console) -> None:
    """The checkout event's page: atomic groups, the derived_tstamp rule with its inputs, the event with its schema
    link, and the raw parameters with ue_px decoded."""
    c = console.client
    listing = c.get("/console/events?" + urlencode({"q": console.traffic.good[4]})).text
    (row,) = _ids(listing)
    page = html.unescape(c.get(f"/console/events/{row}").text)
    for group in ("<h3>Event</h3>", "<h3>Timestamps</h3>", "<h3>User</h3>"):
        assert group in page
    assert "derived_tstamp = collector_tstamp − (dvce_sent_tstamp − dvce_created_tstamp)" in page
    assert "<dt>derived_tstamp</dt><dd>" in page
    assert '<a href="/console/schemas/com.acme/checkout/1-0-0">iglu:com.acme/checkout/jsonschema/1-0-0</a>' in page
    assert '"orderId": "o-1"' in page and '"total": 21.5' in page
    assert '<th scope="row">ue_px</th>' in page and "decoded JSON" in page


def test_page_view_lists_the_trackers_contexts(console: Console) -> None:
    """A page view sent with a user context shows that context with its schema link and data."""
    c = console.client
    (row,) = _ids(c.get("/console/events?" + urlencode({"q": console.traffic.good[0]})).text)
    page = html.unescape(c.get(f"/console/events/{row}").text)
    assert '<a href="/console/schemas/com.acme/user_context/1-0-0">' in page and '"userId": "u-1"' in page
    assert "<dt>page_url</dt><dd>https://shop.example.com/p/0</dd>" in page


def test_one_bad_event_shows_the_error_at_its_path_the_value_and_the_schema_excerpt(console: Console) -> None:
    """The refused checkout: error in words at $.total, the value sent, the schema part that refused it, and the
    original payload with ue_px decoded."""
    c = console.client
    (row,) = _ids(c.get("/console/events?" + urlencode({"q": console.traffic.bad[1]})).text)
    page = html.unescape(_main(c.get(f"/console/events/{row}").text))
    assert "at $.total: string found, number expected" in page
    assert '<code class="value">"abc"</code>' in page
    assert '"type": "number"' in page and '"minimum": 0' in page
    payload = page[page.index('id="payload"') : page.index("</section>", page.index('id="payload"'))]
    assert '"name": "ue_px"' not in payload  # parameters as an object, ue_px decoded
    assert '"ue_px": {' in payload and '"orderId": "o-2"' in payload


def test_bad_rows_are_grouped_with_counts_that_agree_with_the_lake(console: Console) -> None:
    """Groups type → schema → error; their row counts add up to the lake's bad rows, with an SVG chart."""
    c = console.client
    page = c.get("/console/bad").text
    lake_rows = list(read_bad_rows(LocalLake(console.data / "lake")))
    counts = [int(n) for n in re.findall(r"<td class=\"num\" data-rows>(\d+)</td>", page)]
    assert sum(counts) == len(lake_rows) == len(console.traffic.bad)
    assert '<h2 id="t-1">schema_violations</h2>' in page
    assert "type: $.total: string found, number expected" in page and ">2</td>" in page
    assert "<svg" in page and "schema_violations</title>" in page
    checkout = r'href="(/console/bad/group\?type=schema_violations&amp;schema=iglu%3Acom.acme%2Fcheckout[^"]*)"'
    group = re.search(checkout, page)
    assert group is not None
    rows_page = c.get(html.unescape(group.group(1))).text
    links = re.findall(r'href="(/console/bad/row\?[^"]+)"', rows_page)
    assert len(links) == 2
    one = html.unescape(c.get(html.unescape(links[0])).text)
    assert "at $.total" in one and '"ue_px": {' in one  # the payload decoded as JSON


def test_a_bad_row_outside_the_lakes_bad_folder_is_not_read(console: Console) -> None:
    """Only `bad/**.jsonl` names of the lake are readable through the row page; anything else is a 404."""
    c = console.client
    for name in ("../eventkit.json", "bad/../../micro.db", "good/x.jsonl", "/etc/passwd"):
        assert c.get("/console/bad/row?" + urlencode({"file": name, "line": 0})).status_code == 404


def test_schemas_tree_version_diff_lint_and_last_day_counts(console: Console) -> None:
    """The tree lists vendor → name → versions; a version shows its JSON, lint, 24 h counts, and a diff verdict."""
    c = console.client
    tree = c.get("/console/schemas").text
    assert '<span class="vendor">com.acme</span>' in tree
    for version in ("1-0-0", "1-0-1"):
        assert f'href="/console/schemas/com.acme/checkout/{version}"' in tree
    page = html.unescape(c.get("/console/schemas/com.acme/checkout/1-0-0").text)
    assert re.search(r'data-seen="good">1<', page) and re.search(r'data-seen="bad">2<', page)
    assert '"maxLength": 64' in page and '<h2 id="lint">Lint</h2>' in page
    assert "schema should have a description" in page
    diff = html.unescape(c.get("/console/schemas/com.acme/checkout/1-0-0?diff=1-0-1").text)
    assert '1-0-0 → 1-0-1: <span class="verdict">ADDITION</span>' in diff
    assert "property 'coupon' added" in diff
    assert c.get("/console/schemas/com.acme/checkout/9-9-9").status_code == 404
    assert c.get("/console/schemas/com.acme/checkout/1-0-0?diff=7-0-0").status_code == 404


def test_every_attacker_value_is_escaped(console: Console) -> None:
    """A <script> page title, schema name and error value never reach a page as markup, on any page."""
    c = console.client
    pages = ["/console/events", "/console/bad", "/console/events/rows?after=0"]
    pages += [f"/console/events/{i}" for i in _ids(c.get("/console/events").text)]
    bad = c.get("/console/bad").text
    pages += [html.unescape(u) for u in re.findall(r'href="(/console/(?:bad/group|recovery)\?[^"]+)"', bad)]
    seen_escaped = 0
    for path in pages:
        text = c.get(path).text
        assert "<script>window" not in text and "<img src=x" not in text, path
        if path.endswith("rows?after=0"):
            text = json.loads(text)["html"]
        seen_escaped += ("&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text) + ("&lt;img src=x" in text)
    assert seen_escaped >= 4  # the values are shown (escaped), not dropped


def test_security_headers_favicon_and_static_files(console: Console) -> None:
    """Every page carries a CSP allowing only its own script; /favicon.ico is an icon; unknown static is a 404."""
    c = console.client
    page = c.get("/console/events")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    icon = c.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\0\0\1\0"  # an ICO header
    assert c.get("/console/static/console.js").headers["content-type"].startswith("text/javascript")
    assert c.get("/console/static/../up.py").status_code == 404
    assert c.get("/console/nowhere").status_code == 404
    assert CSRF_COOKIE in page.cookies or CSRF_COOKIE in c.cookies


def test_tracker_and_micro_routes_are_unchanged(console: Console) -> None:
    """The console takes `/`, `/console/...` and `/favicon.ico` only; /health, /micro, /api and tracker routes stay."""
    c = console.client
    assert c.get("/health").status_code == 200
    assert c.get("/micro/all").json()["total"] == len(console.traffic.good) + len(console.traffic.bad)
    assert c.get("/api/schemas/com.acme/checkout/jsonschema/1-0-0").json()["self"]["name"] == "checkout"
    preflight = c.options("/com.snowplowanalytics.snowplow/tp2", headers={"Origin": "https://shop.example.com"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


def test_health_shows_last_hours_events_queue_and_load(console: Console) -> None:
    """The health page counts the last hour's good and bad (as /micro/all here) and the queue depth."""
    c = console.client
    page = c.get("/console/health").text
    micro = c.get("/micro/all").json()
    good = int(re.search(r'data-hour="good">(\d+)<', page).group(1))  # type: ignore[union-attr]
    bad = int(re.search(r'data-hour="bad">(\d+)<', page).group(1))  # type: ignore[union-attr]
    assert (good, bad) == (micro["good"], micro["bad"])
    assert re.search(r'data-figure="queue">\d+<', page)
    assert "<svg" in page


def test_bad_row_files_are_read_once_and_new_ones_are_counted(console: Console, tmp_path: Path) -> None:
    """The bad-rows page's cache reads each lake file once, counts as an uncached read does, and takes new files."""
    shutil.copytree(console.data / "lake", tmp_path / "lake")
    lake = LocalLake(tmp_path / "lake")
    cache = BadRowCache()
    first = summary(lake, "24h", cache)
    files = cache.reads
    assert first.to_json() == summary(lake, "24h").to_json() and files >= 1
    assert summary(lake, "24h", cache).to_json() == first.to_json() and cache.reads == files
    name = next(n for n in lake.list("bad/") if n.endswith(".jsonl"))
    line = lake.read(name).split(b"\n")[0]
    eid = json.loads(line)["data"]["payload"]["enriched"]["event_id"]
    lake.create(name.replace(".jsonl", "-more.jsonl"), line.replace(eid.encode(), str(uuid.uuid4()).encode()) + b"\n")
    assert summary(lake, "24h", cache).total == first.total + 1 and cache.reads == files + 1


def test_mistaken_and_hostile_addresses_get_a_4xx_page_never_a_500(console: Console) -> None:
    """Every page parameter a person or an attacker can type: garbage times and ids, huge or negative numbers,
    `..` in schema and file names, unknown windows and groups. Each answer is a 2xx or 4xx page, never a 500."""
    client = console.client
    addresses = [
        "/console/events?since=yesterday-ish&until=%00",
        "/console/events?since=99999999999999999999d",
        "/console/events?text=" + "%25" * 500 + "&schema=../../etc",
        "/console/events/rows?after=abc",
        "/console/events/rows?after=-1",
        "/console/events/rows?after=99999999999999999999999999",
        "/console/events/not-a-row",
        "/console/events/99999999999999999999999999",
        "/console/events/-5",
        "/console/warehouse/%3Cscript%3E",
        "/console/bad?window=forever",
        "/console/bad/group?type=../x&schema=&error=%00",
        "/console/bad/row?file=../../queue.db&line=1",
        "/console/bad/row?file=bad/schema_violations/x.jsonl&line=notanumber",
        "/console/bad/row?file=bad/schema_violations/x.jsonl&line=-1",
        "/console/schemas/com.acme/checkout/jsonschema/9-9-9",
        "/console/schemas/../../etc/passwd",
        "/console/schemas/%2e%2e/checkout/jsonschema/1-0-0",
        "/console/schemas/com.acme/checkout/jsonschema/1-0-0?diff=not-a-version",
        "/console/schemas/com.acme/checkout/jsonschema/1-0-0?diff=..%2F..%2F1-0-0",
        "/console/recovery?type=&schema=&error=",
        "/console/static/..%2F..%2Fapp.py",
        "/console/static/%2e%2e",
    ]
    answers = {address: client.get(address).status_code for address in addresses}
    assert all(code < 500 for code in answers.values()), answers
    assert answers["/console/bad/row?file=../../queue.db&line=1"] >= 400
    assert answers["/console/static/..%2F..%2Fapp.py"] >= 400
