"""The web dashboard in a real headless Chromium, at 1400 px and at 390 px (a phone): sign in,
navigate, sort and search videos, open a video, compare, sign out; no console errors, no
horizontal scroll, no overlapping boxes; screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.report.browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.service.conftest import Service

pytestmark = pytest.mark.browser

WIDTHS = (1400, 390)

_OVERLAPS = """
() => {
  // Leaf boxes that are drawn (text, inputs, buttons, svg) must not cover one another.
  const boxes = Array.from(document.querySelectorAll(
      'h1, h2, p, a, button, input, label, th, td, .kpi, svg.curve, nav.top > *'))
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
    .filter(e => !Array.from(e.children)
      .some(c => c.matches('h1, h2, p, a, button, input, label, .kpi, svg')));
  const hits = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
      const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
      const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
      if (w > 2 && h > 2) hits.push(`${a.tagName}.${a.className} / ${b.tagName}.${b.className}`);
    }
  }
  return hits.slice(0, 5);
}
"""


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(request: pytest.FixtureRequest, service: Service) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not at /usr/bin/chromium: run `make browser` (needs root apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    width = int(request.param)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": 900})
        opened = context.new_page()
        opened.width = width
        opened.console_errors = []
        opened.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
        opened.on("pageerror", lambda e: opened.console_errors.append(str(e)))
        yield opened
        browser.close()


def _fits(page: Any, name: str) -> None:
    """No horizontal scroll, nothing overlapping, no stray markup; then a screenshot."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= page.width, f"{name}: {scroll}px wide in a {page.width}px window"
    assert page.evaluate(_OVERLAPS) == [], name
    assert "<body>" not in page.inner_text("body"), f"{name}: markup shown as text"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{page.width}.png"), full_page=True)


def _sign_in(page: Any, service: Service, scope: str = "read") -> None:
    page.goto(service.url + "/logout")
    page.goto(service.url + "/")
    assert page.url.startswith(service.url + "/login")
    page.fill("input[name=token]", service.tokens[scope])
    page.click("button[type=submit]")
    page.wait_for_selector("#channels")


def test_sign_in_is_needed_and_a_wrong_token_is_refused(page: Any, service: Service) -> None:
    page.goto(service.url + "/logout")
    page.goto(service.url + "/")
    assert page.url.startswith(service.url + "/login")
    page.fill("input[name=token]", "ts_wrong-token-wrong-token-wrong")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("#login-error")
    _fits(page, "login")
    _sign_in(page, service)
    assert page.console_errors == []


def test_channel_page_figures_videos_and_a_video(page: Any, service: Service) -> None:
    _sign_in(page, service)
    _fits(page, "channels")
    rows = page.locator("#channels tbody tr")
    assert rows.count() >= 3
    first_title = rows.nth(0).locator("td a").first.inner_text()
    rows.nth(0).locator("td a").first.click()
    page.wait_for_selector("#video-table")
    assert page.inner_text("#channel-title") == first_title
    figures = page.locator("#figures .kpi")
    assert figures.count() >= 10
    assert page.locator('#figures [data-figure="median_views"] .value').inner_text() not in ("", "—")
    _fits(page, "channel")

    # Sort by views, most first: the table is in that order.
    page.click('#video-table th a[data-sort="view_count"]')
    page.wait_for_selector('#video-table th[aria-sort="descending"] a[data-sort="view_count"]')
    script = "cells => cells.map(c => c.dataset.value).filter(v => v)"
    views = [float(v) for v in page.eval_on_selector_all("#video-table tbody td[data-value]", script)]
    assert views == sorted(views, reverse=True) and len(views) > 1

    # Search: only matching titles remain.
    word = page.locator("#video-table tbody tr td a").first.inner_text().split()[0]
    page.fill("input[name=q]", word)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=*")
    titles = page.locator("#video-table tbody tr td:first-child a").all_inner_texts()
    assert titles and all(word.casefold() in t.casefold() for t in titles)

    page.locator("#video-table tbody tr td a").first.click()
    page.wait_for_selector("svg.curve")
    assert page.locator("svg.curve polyline.views").count() == 1
    assert "age (days since publishing)" in (page.text_content("svg.curve") or "")
    _fits(page, "video")
    assert page.console_errors == []


def test_compare_errors_docs_and_sign_out(page: Any, service: Service) -> None:
    _sign_in(page, service)
    boxes = page.locator("#channels input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#comparison")
    assert "views per subscriber" in page.inner_text("#comparison tbody")
    _fits(page, "compare")

    page.goto(service.url + "/channels/UCnever0collected000000a")
    assert "not in the warehouse" in page.inner_text("#error-message")
    assert page.locator("pre").count() == 0  # an HTML page, not a JSON body
    page.goto(service.url + "/no/such/page")
    assert page.inner_text("h1") == "Not found"
    _fits(page, "error")
    # the browser logs each 404 answer as a console error: those two were asked for
    assert all("404" in e for e in page.console_errors)
    page.console_errors.clear()

    page.goto(service.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)  # assets served locally
    page.goto(service.url + "/")
    page.click("#logout")
    page.wait_for_selector("input[name=token]")
    page.goto(service.url + "/")
    assert page.url.startswith(service.url + "/login")
    assert page.console_errors == []


def test_a_write_token_adds_a_channel_and_follows_its_job(page: Any, service: Service) -> None:
    _sign_in(page, service, "write")
    handle = service.emulator.world.handle_of(4)
    page.fill("#add-ref", handle)
    page.click("#add-channel button[type=submit]")
    page.wait_for_selector("#job")
    state = "queued"
    for _ in range(240):  # the page refreshes itself every 2 s while the job runs
        state = page.locator("#job").get_attribute("data-state") or ""
        if state not in ("queued", "running"):
            break
        page.wait_for_timeout(500)
    assert state == "completed", page.inner_text("#job")
    _fits(page, "job")
    assert page.console_errors == []


def test_watch_list_add_refuse_and_remove(page: Any, service: Service) -> None:
    _sign_in(page, service, "read")
    page.click("nav.top a[href='/watches']")
    page.wait_for_selector("h1:text('Watch list')")
    assert page.locator("#add-watch").count() == 0  # a read token sees the list, not the form

    _sign_in(page, service, "write")
    page.goto(service.url + "/watches")
    chosen = page.locator("#watch-ref option").first.get_attribute("value") or ""
    page.select_option("#watch-ref", chosen)
    page.fill("#watch-every", "6h")
    page.click("#add-watch button[type=submit]")
    row = page.locator(f'#watches tr[data-channel="{chosen}"]')
    row.wait_for()
    assert "6h" in row.inner_text()
    with service.client("read") as client:  # the REST list is the same list
        items = client.get("/v1/watches").json()["items"]
    assert (chosen, "6h") in {(item["channel_id"], item["every"]) for item in items}
    assert page.locator(f'#watch-ref option[value="{chosen}"]').count() == 0
    _fits(page, "watches")

    page.fill("#watch-every", "soon")
    page.click("#add-watch button[type=submit]")
    assert "invalid period" in page.inner_text("#watch-error")

    page.goto(service.url + "/watches")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(f'#watch-ref option[value="{chosen}"]', state="attached")
    assert row.count() == 0
    with service.client("read") as client:
        items = client.get("/v1/watches").json()["items"]
    assert chosen not in {item["channel_id"] for item in items}
    assert all("422" in e for e in page.console_errors)  # the refused period was a 422 page
    page.console_errors.clear()


def test_alerts_page_lists_what_fired(page: Any, service: Service) -> None:
    from datetime import timedelta

    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.alerts import claim_alert

    _sign_in(page, service, "read")
    page.click("nav.top a[href='/alerts']")
    page.wait_for_selector("h1:text('Alerts')")
    channel_id = service.channel_ids[0]
    with service.app.state.tubescope.pool.borrow() as warehouse:
        assert isinstance(warehouse, Warehouse)
        fired = claim_alert(
            warehouse,
            dedupe_key=f"dash-gap:{channel_id}:{page.viewport_size['width']}",
            rule="dash-gap",
            subject=f"{channel_id}:{page.viewport_size['width']}",
            cooldown=timedelta(hours=1),
            channel_id=channel_id,
            video_id=None,
            value=2.5,
            message=f"Channel has not uploaded for 9.0 days, 2.5x its usual gap. /channels/{channel_id}",
            now=service.emulator.clock.now(),
        )
    assert fired is not None
    page.reload()
    row = page.locator(f'#alerts tr[data-alert="{fired.alert_id}"]')
    assert "2.5x its usual gap" in row.inner_text()
    assert row.locator(f'a[href="/channels/{channel_id}"]').count() == 1
    with service.client("read") as client:  # the same alert under /v1/alerts
        listed = client.get("/v1/alerts", params={"rule": "dash-gap"}).json()["items"]
    assert fired.alert_id in {item["alert_id"] for item in listed}
    _fits(page, "alerts")
