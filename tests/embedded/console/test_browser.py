"""The console in a real browser: Debian's chromium driven by Playwright against a real `eventkit up`, fed by the
official snowplow-tracker; every page clicked through, numbers checked against /micro/all and the lake, no console
error, nothing injected runs, usable by keyboard and at phone width.

Screenshots go to the test's temp folder; with CONSOLE_SCREENSHOTS=DIR they are also written to DIR (the README's
pictures in docs/console/ are made that way:
`CONSOLE_SCREENSHOTS=docs/console pytest -p no:randomly tests/embedded/console/test_browser.py`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from snowplow_tracker import PageView, SelfDescribing, SelfDescribingJson, StructuredEvent

from tests.embedded.console.rig import HOSTILE, HOSTILE_IMG, wait_for_lake_bad
from tests.enrich.event_mix import ACME_SCHEMAS, write_acme_registry
from tests.enrich.processes import EventkitProcess, free_port
from tests.enrich.tracker_traffic import ACME, tracker

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (CI): apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session (never downloaded: Debian's, through executable_path)."""
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Stack:
    """A running `eventkit up` subprocess and what was sent to it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.registry = write_acme_registry(tmp / "schemas")
        v2 = json.loads(json.dumps(ACME_SCHEMAS["checkout"]))
        v2["self"]["version"] = "1-0-1"
        v2["properties"]["coupon"] = {"type": "string"}
        (self.registry / "com.acme" / "checkout" / "jsonschema" / "1-0-1").write_text(json.dumps(v2))
        args = ["up", "--port", str(self.port), "--data-dir", str(self.data), "--registry", str(self.registry)]
        self.proc = EventkitProcess(args, tmp / "up.log")
        self.good = 0
        self.bad = 0

    def micro_all(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{self.base}/micro/all").json()
        return counts

    def wait(self, total: int) -> None:
        import time

        deadline = time.monotonic() + 30
        while self.micro_all()["total"] < total:
            assert time.monotonic() < deadline, self.micro_all()
            time.sleep(0.1)


def _send(stack: Stack) -> None:
    """Tracker traffic: page views (one titled with a script), a checkout, a structured event, and refused checkouts
    carrying markup in their values and an unknown schema."""
    (t, failures) = tracker(stack.port, "post", 1)
    user = SelfDescribingJson(ACME.format("user_context"), {"userId": "u-1", "plan": "free"})
    for i in range(3):
        t.track(PageView(page_url=f"https://shop.example.com/p/{i}", page_title=f"Product {i}", context=[user]))
    t.track(PageView(page_url="https://shop.example.com/x", page_title=HOSTILE))
    t.track(SelfDescribing(SelfDescribingJson(ACME.format("checkout"), {"orderId": "o-1", "total": 21.5})))
    t.track(StructuredEvent("shop", "add", label="sku-1", value=2.5))
    t.track(SelfDescribing(SelfDescribingJson(ACME.format("checkout"), {"orderId": HOSTILE, "total": HOSTILE_IMG})))
    t.track(SelfDescribing(SelfDescribingJson(ACME.format("checkout"), {"orderId": "o-2", "total": "abc"})))
    t.track(SelfDescribing(SelfDescribingJson(ACME.format("not_published"), {"a": 1})))
    t.flush()
    assert failures == []
    stack.good, stack.bad = 6, 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _chromium()  # skip (or fail on CI) before starting anything
    s = Stack(tmp_path_factory.mktemp("browser"))
    try:
        s.proc.wait_http(f"{s.base}/health")
        _send(s)
        s.wait(s.good + s.bad)
        wait_for_lake_bad(s.data, s.bad)
        yield s
    finally:
        s.proc.terminate()


class Tab:
    """A page that records console errors, uncaught exceptions and dialogs (an injected script would open one)."""

    def __init__(self, browser: Any, shots: Path, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.shots = shots
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        extra = os.environ.get("CONSOLE_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)

    def check_clean(self) -> None:
        assert self.page.evaluate("() => window.__pwned") is None
        assert self.errors == []

    def close(self) -> None:
        self.context.close()


def _header(page: Any) -> dict[str, int]:
    return {k: int(page.inner_text(f'[data-count="{k}"]')) for k in ("good", "bad", "total")}


def test_click_through_every_page(browser: Any, stack: Stack, tmp_path: Path) -> None:
    """Live events update without reload and agree with /micro/all; one event, bad rows (agreeing with the lake),
    one bad row, recovery preview, schemas with a diff and health all render with no console error and nothing
    injected running."""
    tab = Tab(browser, tmp_path, viewport={"width": 1280, "height": 900})
    page = tab.page
    try:
        page.goto(f"{stack.base}/")
        assert page.url.endswith("/console/events")
        assert _header(page) == stack.micro_all()
        assert page.locator("#events tbody tr").count() == stack.good + stack.bad
        tab.shot("events")

        (t, _) = tracker(stack.port, "get", 1)
        t.track(PageView(page_url="https://shop.example.com/live", page_title="Arrives live"))
        after = stack.good + stack.bad + 1
        page.wait_for_function(f"() => document.querySelectorAll('#events tbody tr').length === {after}")
        assert "shop.example.com/live" in page.inner_text("#events tbody tr:first-child")
        page.wait_for_function(f"() => document.querySelector('[data-count=total]').textContent === '{after}'")
        assert _header(page) == stack.micro_all()

        page.select_option("select[name=validity]", "bad")
        page.click("button:has-text('Filter')")
        assert page.locator("#events tbody tr").count() == stack.bad

        page.goto(f"{stack.base}/console/events?event=unstruct")
        page.goto(f"{stack.base}/console/events?schema=com.acme/checkout&validity=good")
        page.click("#events tbody tr:first-child a:has-text('checkout')")
        page.wait_for_selector("#derived-note")
        assert "derived_tstamp = collector_tstamp" in page.inner_text("#derived-note")
        assert page.locator("a:has-text('iglu:com.acme/checkout/jsonschema/1-0-0')").count() >= 1
        tab.shot("event")

        page.click("nav >> text=Bad rows")
        counts = [int(x) for x in page.locator("td[data-rows]").all_inner_texts()]
        lake_rows = sum(
            len([line for line in f.read_text().splitlines() if line.strip()])
            for f in (stack.data / "lake" / "bad").rglob("*.jsonl")
        )
        assert sum(counts) == lake_rows == stack.bad
        assert page.locator("figure.chart svg").is_visible()
        tab.shot("bad-rows")
        page.locator("tr:has-text('string found, number expected') >> a:has-text('rows')").click()
        page.locator("a[href^='/console/bad/row']").first.click()
        assert "at $.total" in page.inner_text("main")
        assert page.locator("code.value").first.is_visible()
        tab.shot("bad-row")

        page.go_back()
        page.click("a:has-text('What would pass today?')")
        assert re.search(r"0 of 2 rows would pass", page.inner_text("#preview"))
        tab.shot("recovery")

        page.click("nav >> text=Schemas")
        page.click("a[href='/console/schemas/com.acme/checkout/1-0-0']")
        page.select_option("select[name=diff]", "1-0-1")
        page.click("button:has-text('Diff')")
        assert page.inner_text(".verdict") == "ADDITION"
        tab.shot("schemas")

        page.click("nav >> text=Health")
        assert page.locator("figure.chart svg rect").count() >= 1
        assert "answering" in page.inner_text('[data-figure="collector"]')
        assert "answering" in page.inner_text('[data-figure="enrich"]')
        tab.shot("health")
        tab.check_clean()
    finally:
        tab.close()


def test_keyboard_and_phone_width(browser: Any, stack: Stack, tmp_path: Path) -> None:
    """The first Tab reaches the skip link, Enter moves focus to the content, and at 390 px nothing overflows."""
    tab = Tab(browser, tmp_path, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = tab.page
    try:
        page.goto(f"{stack.base}/console/events")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        for path in ("/console/events", "/console/bad", "/console/schemas/com.acme/checkout/1-0-0", "/console/health"):
            page.goto(stack.base + path)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide"
        page.goto(f"{stack.base}/console/events")
        tab.shot("events-phone")
        tab.check_clean()
    finally:
        tab.close()
