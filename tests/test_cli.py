from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unknown_command_is_a_usage_error_not_a_traceback() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_version_prints_and_exits_zero() -> None:
    result = run_cli("version")
    assert result.returncode == 0 and result.stdout.strip()


def test_alerts_lists_what_fired_and_refuses_an_unknown_channel(tmp_path: object) -> None:
    import json
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.alerts import claim_alert, record_delivery

    db = Path(str(tmp_path)) / "alerts.duckdb"
    with Warehouse.open(db) as warehouse:
        alert = claim_alert(
            warehouse,
            dedupe_key="quota:key-1:default:2026-05-20",
            rule="quota",
            subject="key-1:default",
            cooldown=timedelta(hours=6),
            channel_id=None,
            video_id=None,
            value=0.85,
            message="API key key-1 has spent 85% of today's default quota.",
            now=datetime(2026, 5, 20, 12, tzinfo=UTC),
        )
        assert alert is not None
        record_delivery(warehouse, alert.alert_id, {"webhook": "sent"})
    listed = run_cli("alerts", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["rule"], row["value"], row["delivered"]) == ("quota", 0.85, {"webhook": "sent"})
    text = run_cli("alerts", "--db", str(db))
    assert text.returncode == 0 and "85% of today's default quota" in text.stdout
    assert "webhook sent" in text.stdout
    missing = run_cli("alerts", "--db", str(db), "--channel", "@nobody-here")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
