"""One truth for the daily-views forecast: the report draws the band the REST analysis serves.

A warehouse is collected from the emulator on five days spread over four weeks. The report of a
channel (``render_report``, what ``tubescope report`` and ``GET /v1/channels/{id}/report`` draw)
and ``GET /v1/channels/{id}/analysis`` must show the same calibrated forecast band, number for
number, and both must equal an independent recomputation from the served daily views with the
real-fleet quantiles.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np

from tests.service.conftest import serve
from tubescope.analysis.daily_forecast import FLEET_COVERAGE, FLEET_QUANTILES
from tubescope.config import load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.report import render_report
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.testing import running_emulator
from tubescope.warehouse.repository import Warehouse


def test_report_and_rest_draw_the_same_calibrated_forecast_band(tmp_path: Path) -> None:
    db_path = tmp_path / "warehouse.duckdb"
    with running_emulator(seed=5, n_channels=2) as emulator:
        channel_id = emulator.world.channel_ids()[0]
        start = emulator.clock.now()
        for days in (0, 7, 14, 21, 28):
            emulator.set_now(start + timedelta(days=days))
            collect([channel_id], db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)

    with Warehouse.open(db_path, read_only=True) as wh:
        report = render_report(wh, channel_id)
    daily = next(g for g in report.model.growth if g.metric == "Daily views")
    band = daily.forecast
    assert band is not None and band.method.startswith("median of the last 7 days") and band.level == 0.8

    store = token_store_for(db_path)
    token = store.create(Scope.READ, "forecast")[0]
    settings = load_settings(db_path=db_path, model_dir=db_path.parent)
    app = create_app(settings, ServiceOptions(db_path=db_path, token_file=store.path))
    url, server, thread = serve(app)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            response = client.get(f"/v1/channels/{channel_id}/analysis")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert response.status_code == 200, response.text
    timeseries = response.json()["extras"]["timeseries"]
    served = timeseries["forecast"]
    assert served["status"] == "ok" and served["model"] == band.method
    interval = next(i for i in served["intervals"] if i["level"] == 0.8)
    days = len(band.mean)
    assert days == 28 and [d[:10] for d in served["dates"][:days]] == [
        t.date().isoformat() for t in band.times
    ]
    assert band.measured_coverage == interval["measured_coverage"] == FLEET_COVERAGE[0.8]
    assert "covered 80.1% in backtests" in report.html
    np.testing.assert_allclose(band.mean, served["median"][:days], rtol=1e-12)
    np.testing.assert_allclose(band.lower, interval["lower"][:days], rtol=1e-12)
    np.testing.assert_allclose(band.upper, interval["upper"][:days], rtol=1e-12)

    # Independent: the served daily views, their last-week median and scale, the fleet quantiles.
    log_views = np.log1p(np.asarray(timeseries["daily_views"]["views"], dtype=np.float64))
    centre = float(np.median(log_views[-7:]))
    scale = max(float(np.median(np.abs(np.diff(log_views)))), 0.05)
    widths = np.asarray(FLEET_QUANTILES[0.8])
    slope = (widths[-1] - widths[0]) / (widths.size - 1)
    leads = np.arange(1, days + 1)
    widths = np.where(
        leads <= widths.size,
        widths[np.minimum(leads, widths.size) - 1],
        widths[-1] + slope * (leads - widths.size),
    )
    np.testing.assert_allclose(band.mean, np.full(days, np.expm1(centre)), rtol=1e-9)
    np.testing.assert_allclose(band.upper, np.expm1(centre + widths * scale), rtol=1e-9)
    np.testing.assert_allclose(band.lower, np.maximum(np.expm1(centre - widths * scale), 0.0), rtol=1e-9)
    assert any("extrapolated" in note for note in served["notes"])
    methods = " ".join(note.definition for note in report.model.methods)
    assert "split-conformal" in methods and "ETS" not in methods
    assert "Daily views: observed and forecast" in report.html
