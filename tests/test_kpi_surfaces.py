"""One truth on every surface: each key figure is the same number in the CLI's JSON (analyze and
compare), the REST API, the dashboard's HTML and the report's HTML, on one warehouse.

The warehouse is built against the emulator with its clock moving: three channels collected, then
only two of them again 10 and 40 days later. The third is therefore stale: every surface flags it,
and shows its own figures (as of its last observation), never zeros; its 28-day growth is null
with a reason, since it was observed once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.service.conftest import serve
from tubescope.analysis.benchmark import BENCHMARK_KPIS
from tubescope.analysis.kpis import KPI_NAMES
from tubescope.cli import app as cli_app
from tubescope.config import load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.testing import running_emulator


@dataclass
class Built:
    db_path: Path
    ids: list[str]
    url: str
    token: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    db_path = tmp_path_factory.mktemp("surfaces") / "warehouse.duckdb"
    with running_emulator(seed=11, n_channels=4) as emulator:
        ids = emulator.world.channel_ids()[:3]
        start = emulator.clock.now()
        collect(ids, db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
        for days in (10, 40):
            emulator.set_now(start + timedelta(days=days))
            collect(ids[:2], db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
    store = token_store_for(db_path)
    token = store.create(Scope.READ, "surfaces")[0]
    settings = load_settings(db_path=db_path, model_dir=db_path.parent)
    service = create_app(settings, ServiceOptions(db_path=db_path, token_file=store.path))
    url, server, thread = serve(service)
    try:
        yield Built(db_path, ids, url, token)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class _Figures(HTMLParser):
    """Every ``data-figure`` element: (channel or None, figure) -> value (None when empty)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str | None, str], float | None] = {}
        self.blocks: dict[str, dict[str, str]] = {}
        self._channel: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if "figures" in found.get("class", "").split():
            self._channel = found.get("data-channel")
            self.blocks[self._channel or ""] = found
        if "data-figure" in found:
            channel = found.get("data-channel") or self._channel
            raw = found.get("data-value", "")
            self.values[(channel, found["data-figure"])] = None if raw == "" else float(json.loads(raw))


def _figures(page: str) -> _Figures:
    parser = _Figures()
    parser.feed(page)
    return parser


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_kpi_is_the_same_number_on_every_surface(built: Built, tmp_path: Path) -> None:
    db = str(built.db_path)
    subject, fresh_peer, stale_peer = built.ids
    cli = {cid: json.loads(_cli("analyze", cid, "--db", db, "--json"))["kpis"] for cid in built.ids}
    compared = json.loads(_cli("compare", *built.ids, "--db", db, "--json"))
    with httpx.Client(base_url=built.url, timeout=120) as client:
        rest = {
            cid: client.get(f"/v1/channels/{cid}", headers={"Authorization": f"Bearer {built.token}"}).json()[
                "kpis"
            ]
            for cid in built.ids
        }
        client.cookies.set("tubescope_token", built.token)
        dashboard = {cid: _figures(client.get(f"/channels/{cid}").text) for cid in built.ids}
        dash_compare = _figures(client.get("/compare", params=[("channel", c) for c in built.ids]).text)
    out = tmp_path / "report.html"
    _cli(
        "report",
        subject,
        "--db",
        db,
        "--peers",
        f"{fresh_peer},{stale_peer}",
        "--out",
        str(out),
        "--no-summary",
    )
    report = _figures(out.read_text(encoding="utf-8"))

    for cid in built.ids:
        values = cli[cid]["values"]
        assert set(values) == set(KPI_NAMES)
        assert rest[cid]["values"] == values, cid
        assert rest[cid]["as_of"] == cli[cid]["as_of"] and rest[cid]["stale"] == cli[cid]["stale"]
        page = dashboard[cid]
        for name in KPI_NAMES:
            assert _same(page.values[(cid, name)], values[name]), (cid, name)
        assert page.blocks[cid]["data-as-of"] == cli[cid]["as_of"]
        assert page.blocks[cid]["data-stale"] == ("true" if cli[cid]["stale"] else "false")
        by_id = next(r for r in compared if r["channel_id"] == cid)
        assert by_id["figures"]["values"] == values
        for name, _ in BENCHMARK_KPIS:
            kpi = next(k for k in by_id["kpis"] if k["name"] == name)
            assert _same(kpi["value"], values[name]), (cid, name)
            assert _same(dash_compare.values[(cid, name)], values[name]), (cid, name)
            assert _same(report.values[(cid, name)], values[name]), (cid, name)
    for name in KPI_NAMES:  # the report's own block for its channel
        assert _same(report.values[(subject, name)], cli[subject]["values"][name]), name

    # The stale channel is flagged everywhere; its figures are its own, not zeros.
    assert not cli[subject]["stale"] and not cli[fresh_peer]["stale"]
    stale = cli[stale_peer]
    assert stale["stale"] and stale["stale_days"] == pytest.approx(40, abs=0.5)
    assert stale["values"]["subscriber_growth_28d"] is None and stale["values"]["view_growth_28d"] is None
    assert "28 days" in stale["reasons"]["view_growth_28d"]
    assert stale["values"]["median_views"] and stale["values"]["median_views"] > 0
    assert cli[subject]["values"]["view_growth_28d"] is not None  # 40 days of history
    report_text = out.read_text(encoding="utf-8")
    assert re.search(r'class="badge stale"', report_text)
    assert dashboard[stale_peer].blocks[stale_peer]["data-stale"] == "true"
