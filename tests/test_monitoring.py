"""The shipped operations files: Prometheus alert rules and the Grafana dashboard.

promtool (Debian's ``prometheus`` package, installed by ``make servers``) checks the rules and
runs their unit tests (``deploy/prometheus/alerts_test.yml``); every metric the rules and the
dashboard use must be one the service exposes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tubescope.service.cache import AnalysisCache
from tubescope.service.metrics import ServiceMetrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "tubescope.json"
_METRIC = re.compile(r"\b(?:tubescope|process)_[a-z_]+\b")

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None, reason="promtool not installed (Debian package 'prometheus'; `make servers`)"
)


def _exposed_names() -> set[str]:
    """Sample names of a service's /metrics with every labelled family fed once."""
    metrics = ServiceMetrics()
    metrics.request_latency.labels("GET", "/v1/channels", "2xx").observe(0.01)
    metrics.count_quota_spent(1)
    metrics.observe_job("collect", "failed", 1.0)
    metrics.set_queue_depth(0)
    metrics.set_job_counts({"queued": 0})
    metrics.cache_hits.inc()
    metrics.cache_misses.inc()
    metrics.watch_cache(AnalysisCache(60))
    metrics.set_last_collections({"UCx": datetime.now(UTC)})
    metrics.set_quota({("key-x", "default"): 5}, 10)
    metrics.rate_limited.inc()
    return {
        line.split("{")[0].split(" ")[0]
        for line in metrics.render().decode().splitlines()
        if line[:1].isalpha()
    }


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    checked = subprocess.run([str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


@needs_promtool
def test_each_alert_fires_on_its_trigger_and_not_before() -> None:
    tested = subprocess.run(
        [str(promtool), "test", "rules", "alerts_test.yml"],
        capture_output=True,
        text=True,
        cwd=RULES.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_name_the_five_alerts_the_operator_needs() -> None:
    names = re.findall(r"^\s*- alert: (\S+)", RULES.read_text(), flags=re.MULTILINE)
    assert names == [
        "TubescopeCollectionStale",
        "TubescopeQuotaAbove80Percent",
        "TubescopeHigh5xxRate",
        "TubescopeP99LatencyHigh",
        "TubescopeJobFailures",
    ]


def test_rules_and_dashboard_use_only_metrics_the_service_exposes() -> None:
    exposed = _exposed_names()
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set(_METRIC.findall(RULES.read_text())) | {m for e in exprs for m in _METRIC.findall(e)}
    assert used - exposed == set()
    assert {"process_cpu_seconds_total", "tubescope_quota_remaining_units"} <= used


def test_dashboard_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "tubescope" and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["uid"] == "${DS_PROMETHEUS}" for panel in dashboard["panels"])
