"""The web dashboard in a real headless Chromium: sign in, navigate, compare, no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.report.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.service.conftest import Service

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(service: Service) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not at /usr/bin/chromium: run `make browser` (needs root apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        opened = context.new_page()
        opened.console_errors = []
        opened.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
        opened.on("pageerror", lambda e: opened.console_errors.append(str(e)))
        yield opened
        browser.close()


def test_pages_need_a_signed_in_token(page: Any, service: Service) -> None:
    page.goto(service.url + "/")
    assert page.url.startswith(service.url + "/login")
    page.fill("input[name=token]", "ts_wrong-token-wrong-token-wrong")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("#login-error")
    page.fill("input[name=token]", service.tokens["read"])
    page.click("button[type=submit]")
    page.wait_for_selector("#channels")
    assert page.console_errors == []


def test_channel_list_channel_page_and_comparison(page: Any, service: Service) -> None:
    page.goto(service.url + "/")
    rows = page.locator("#channels tbody tr")
    assert rows.count() >= 3
    first_title = rows.nth(0).locator("td a").inner_text()
    rows.nth(0).locator("td a").click()
    page.wait_for_function(
        "document.querySelectorAll('.plotly-graph-div').length > 0 && "
        "Array.from(document.querySelectorAll('.plotly-graph-div'))"
        ".every(d => d.querySelector('svg.main-svg'))",
        timeout=60_000,
    )
    assert first_title in page.inner_text("body")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-channel.png"), full_page=False)

    page.goto(service.url + "/")
    boxes = page.locator("#channels input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#comparison")
    header = page.inner_text("#comparison thead")
    assert first_title in header
    assert "views_per_subscriber" in page.inner_text("#comparison tbody")
    page.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"), full_page=True)
    assert (ARTIFACTS / "dashboard-compare.png").stat().st_size > 10_000
    assert page.console_errors == []
