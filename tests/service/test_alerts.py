"""Alerts through REST and the dashboard: rules from tubescope.toml and added over REST, a check
that fires each alert once and delivers it to a real webhook receiver and a real SMTP server, the
same alerts under ``/v1/alerts`` and on the ``/alerts`` page, and no secret in any log line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import serve
from tests.watch.receivers import smtp_server, webhook_receiver
from tubescope.config import AlertRuleSettings, load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.quota import QuotaTracker, QuotaUsage
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.jobs.watch import watch_stored
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.service.watching import check_tick_alerts
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse
from tubescope.watch.delivery import SIGNATURE_HEADER, verify
from tubescope.watch.schedule import claim_due

HOOK_SECRET = "rest-hook-secret-31"
SMTP_PASSWORD = "rest-smtp-pass-47"


def test_rules_check_delivery_and_listing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with (
        running_emulator(seed=12, n_channels=3) as emu,
        webhook_receiver() as receiver,
        smtp_server(password=SMTP_PASSWORD) as box,
    ):
        ids = emu.world.channel_ids()[:2]
        db = tmp_path / "a.duckdb"
        collect(ids, db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        with Warehouse.open(db) as warehouse:
            watch_stored(warehouse, ids, every=timedelta(days=1), group="g")
            # today's tick taken, so the scheduler starting with the app collects nothing meanwhile
            assert sorted(claim_due(warehouse, datetime.now(UTC))) == sorted(ids)
        settings = load_settings(
            db_path=db,
            youtube_api_base=emu.base_url,
            api_keys=emu.keys[:1],
            public_url="https://ts.example",
            alert_rules=[AlertRuleSettings(name="failed-runs", kind="collection_failed")],
            alert_webhook_url=receiver.url,
            alert_webhook_secret=HOOK_SECRET,
            alert_smtp_host=box.host,
            alert_smtp_port=box.port,
            alert_smtp_starttls=False,
            alert_smtp_username="alerts",
            alert_smtp_password=SMTP_PASSWORD,
            alert_email_to=["team@example.test"],
            alert_retry_wait_seconds=0.01,
        )
        store = token_store_for(db)
        tokens = {scope: store.create(scope, f"t-{scope.value}")[0] for scope in Scope}
        app = create_app(settings, ServiceOptions(db_path=db, token_file=store.path))
        url, server, thread = serve(app)

        def client(scope: Scope) -> httpx.Client:
            headers = {"Authorization": f"Bearer {tokens[scope]}"}
            return httpx.Client(base_url=url, headers=headers, timeout=60)

        try:
            with client(Scope.ADMIN) as admin, client(Scope.READ) as reader:
                rules = reader.get("/v1/alerts/rules").json()["items"]
                assert [(r["name"], r["source"]) for r in rules] == [("failed-runs", "settings")]
                gap = {"name": "gap", "kind": "upload_gap", "threshold": 0.001, "channels": [ids[0]]}
                assert reader.post("/v1/alerts/rules", json=gap).status_code == 403
                created = admin.post("/v1/alerts/rules", json=gap)
                assert created.status_code == 201 and created.json()["source"] == "rest"
                clash = {"name": "failed-runs", "kind": "quota"}
                assert admin.post("/v1/alerts/rules", json=clash).status_code == 422
                no_threshold = {"name": "fast", "kind": "views_per_hour"}
                assert admin.post("/v1/alerts/rules", json=no_threshold).status_code == 422
                assert admin.post("/v1/alerts/rules", json={"name": "x", "kind": "nope"}).status_code == 422
                assert {r["name"] for r in reader.get("/v1/alerts/rules").json()["items"]} == {
                    "failed-runs",
                    "gap",
                }

                fired = admin.post("/v1/alerts/check").json()["items"]
                assert [(a["rule"], a["channel_id"]) for a in fired] == [("gap", ids[0])]
                (alert,) = fired
                assert alert["delivered"] == {"webhook": "sent", "email": "sent"}
                assert alert["message"].endswith(f"https://ts.example/channels/{ids[0]}")
                assert "has not uploaded for" in alert["message"]
                # evaluated again: already sent, nothing new, nothing delivered twice
                assert admin.post("/v1/alerts/check").json()["items"] == []
                listed = reader.get("/v1/alerts").json()["items"]
                assert [a["alert_id"] for a in listed] == [alert["alert_id"]]
                assert reader.get("/v1/alerts", params={"channel": ids[1]}).json()["items"] == []
                assert reader.post("/v1/alerts/check").status_code == 403

                # the scheduler's tick checks the system rules: a key past 80% of today's quota
                quota_rule = {"name": "quota", "kind": "quota", "threshold": 0.8}
                assert admin.post("/v1/alerts/rules", json=quota_rule).status_code == 201
                state = app.state.tubescope
                assert isinstance(state.quota, QuotaTracker)
                (fingerprint, bucket), left = next(iter(state.quota.remaining().items()))
                state.quota.record(QuotaUsage({(fingerprint, bucket): left - 1_000}))
                now = datetime.now(UTC)
                (quota_id,) = asyncio.run(check_tick_alerts(state, now))
                assert asyncio.run(check_tick_alerts(state, now + timedelta(minutes=1))) == []
                quota_alert = reader.get("/v1/alerts", params={"rule": "quota"}).json()["items"][0]
                assert quota_alert["alert_id"] == quota_id and quota_alert["channel_id"] is None
                assert (
                    f"API key {fingerprint} has spent 90% of today's {bucket} quota" in quota_alert["message"]
                )

                assert admin.delete("/v1/alerts/rules/gap").status_code == 200
                assert admin.delete("/v1/alerts/rules/gap").status_code == 404
                assert admin.delete("/v1/alerts/rules/failed-runs").status_code == 422

            with httpx.Client(base_url=url, timeout=60) as browser:
                assert browser.get("/alerts").status_code == 303  # sign in first
                browser.post("/login", data={"token": tokens[Scope.READ], "next": "/alerts"})
                page = browser.get("/alerts")
            assert page.status_code == 200
            assert f'data-alert="{alert["alert_id"]}"' in page.text
            assert f'href="/channels/{ids[0]}"' in page.text and "webhook: sent" in page.text
        finally:
            server.should_exit = True
            thread.join(timeout=30)

    request, quota_request = receiver.requests
    assert json.loads(quota_request.body)["alert_id"] == quota_id
    assert verify(request.body, HOOK_SECRET, request.headers[SIGNATURE_HEADER])
    body = json.loads(request.body)
    assert body["alert_id"] == alert["alert_id"] and body["kind"] == "upload_gap"
    assert body["link"] == f"https://ts.example/channels/{ids[0]}" and body["value"] == alert["value"]
    mail, _ = box.messages
    assert mail["Subject"] == "[tubescope] upload gap: gap" and mail["To"] == "team@example.test"
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes) and alert["message"] in payload.decode()
    assert box.logins == [("alerts", SMTP_PASSWORD)] or set(box.logins) == {("alerts", SMTP_PASSWORD)}
    logged = capfd.readouterr()
    for secret in (HOOK_SECRET, SMTP_PASSWORD):
        assert secret not in logged.out and secret not in logged.err
