"""The alert job: a half-configured delivery is refused before anything is claimed, a delivery
that keeps failing is stored with the alert (once, without secrets) instead of failing the check,
and a failed delivery is tried again when later runs land, a set number of times at most."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.watch.receivers import webhook_receiver
from tubescope.config import AlertRuleSettings, Settings, load_settings
from tubescope.errors import ConfigError
from tubescope.jobs.alerts import TICK_KINDS, QuotaFigures, after_run, check, parse_rule, redeliver_failed
from tubescope.jobs.common import warehouse_target
from tubescope.warehouse import Warehouse
from tubescope.warehouse.alerts import StoredAlert, list_alerts

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
QUOTA = QuotaFigures(left={("key-abcdef", "default"): 500}, daily_units=10_000, day="2026-05-20")
RULES = [AlertRuleSettings(name="quota", kind="quota", threshold=0.8)]


def _borrow(db: Path) -> AbstractContextManager[Warehouse]:
    return Warehouse.open(db)


def test_a_webhook_without_a_secret_is_refused_before_any_claim(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    settings = load_settings(db_path=db, alert_rules=RULES, alert_webhook_url="http://127.0.0.1:9/hook")
    with pytest.raises(ConfigError, match="secret"):
        check(lambda: _borrow(db), settings, channel_ids=[], kinds=TICK_KINDS, now=NOW, quota=QUOTA)
    with Warehouse.open(db) as warehouse:
        assert list_alerts(warehouse) == []


def test_a_failing_webhook_is_recorded_once_without_its_token(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with webhook_receiver("/hook/T0KEN-9") as receiver:
        receiver.fail_next = 100
        settings = load_settings(
            db_path=db,
            alert_rules=RULES,
            alert_webhook_url=receiver.url,
            alert_webhook_secret="s3cret-77",
            alert_retries=2,
            alert_retry_wait_seconds=0.01,
        )

        def run() -> list[str]:
            fired = check(
                lambda: _borrow(db), settings, channel_ids=[], kinds=TICK_KINDS, now=NOW, quota=QUOTA
            )
            return [alert.alert_id for alert in fired]

        (alert_id,) = run()
        assert run() == []  # the same quota day: already sent
    assert len(receiver.requests) == 2  # two attempts, then given up
    with Warehouse.open(db) as warehouse:
        (stored,) = list_alerts(warehouse)
    assert stored.alert_id == alert_id and stored.value == 0.95
    outcome = stored.delivered["webhook"]
    assert outcome.startswith("failed: ") and "503" in outcome
    assert "T0KEN-9" not in outcome and "s3cret-77" not in outcome


def test_rules_from_json_are_checked_as_settings_are() -> None:
    assert parse_rule({"name": "drop", "kind": "subscriber_drop"}).threshold is None
    with pytest.raises(ConfigError, match="needs a threshold"):
        parse_rule({"name": "fast", "kind": "views_per_hour"})
    with pytest.raises(ConfigError, match="fraction"):
        parse_rule({"name": "q", "kind": "quota", "threshold": 80})
    with pytest.raises(ConfigError, match="invalid alert rule"):
        parse_rule({"name": "bad name!", "kind": "quota"})


def test_check_now_evaluates_the_watch_list_once_and_skips_unreadable_stored_rules(tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.warehouse.archive_fill import fill
    from tubescope.config import AlertRuleSettings, load_settings
    from tubescope.jobs.alerts import check_now, rule_rows
    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.alerts import list_alerts, save_rule
    from tubescope.warehouse.watches import add_watches

    db = tmp_path / "w.duckdb"
    last = fill(db, days=30)
    with Warehouse.open(db) as warehouse:
        channel_id = warehouse.fetchall("SELECT min(channel_id) FROM channels")[0][0]
        add_watches(warehouse, [channel_id], every=timedelta(days=1), group="default", at=last)
        # a rule stored by an older version, in a shape this one no longer reads
        save_rule(warehouse, "legacy", {"kind": "no-such-kind"}, last)
    settings = load_settings(
        db_path=db, alert_rules=[AlertRuleSettings(name="gap", kind="upload_gap", threshold=0.001)]
    )
    with Warehouse.open(db, read_only=True) as warehouse:
        assert [(row.spec.name, row.source) for row in rule_rows(settings, warehouse)] == [
            ("gap", "settings")
        ]
    first = check_now(db=db, settings=settings)
    again = check_now(db=db, settings=settings)
    assert [(a.rule, a.channel_id) for a in first] == [("gap", channel_id)] and again == []
    with Warehouse.open(db, read_only=True) as warehouse:
        assert [(a.rule, a.channel_id) for a in list_alerts(warehouse)] == [("gap", channel_id)]


def _hooked(db: Path, url: str, redeliveries: int) -> Settings:
    return load_settings(
        db_path=db,
        alert_rules=RULES,
        alert_webhook_url=url,
        alert_webhook_secret="s3cret-77",
        alert_retries=2,
        alert_retry_wait_seconds=0.01,
        alert_redeliveries=redeliveries,
    )


def _tick(db: Path, settings: Settings) -> list[StoredAlert]:
    """A scheduler tick's evaluation: the quota rule fires (once) and is delivered."""
    return check(lambda: _borrow(db), settings, channel_ids=[], kinds=TICK_KINDS, now=NOW, quota=QUOTA)


def test_a_failed_delivery_is_sent_when_a_later_run_lands_and_never_twice(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with webhook_receiver("/hook") as receiver:
        receiver.fail_next = 5  # the first delivery (2 attempts) and the first redelivery fail
        settings = _hooked(db, receiver.url, redeliveries=3)
        (fired,) = check(
            lambda: _borrow(db), settings, channel_ids=[], kinds=TICK_KINDS, now=NOW, quota=QUOTA
        )
        assert fired.delivered["webhook"].startswith("failed: ")
        assert (
            check(lambda: _borrow(db), settings, channel_ids=[], kinds=TICK_KINDS, now=NOW, quota=QUOTA) == []
        )
        assert len(receiver.requests) == 2  # a tick's evaluation does not redeliver

        statuses = []
        for _ in range(4):  # four runs land
            after_run(settings, warehouse_target(db, settings), [])
            with Warehouse.open(db) as warehouse:
                (stored,) = list_alerts(warehouse)
            statuses.append(stored.delivered["webhook"])
    assert statuses[0].startswith("failed after redelivery 1: ") and "503" in statuses[0]
    assert statuses[1] == "sent after 2 attempts on redelivery 2"  # refused once more, then taken
    assert statuses[2:] == [statuses[1]] * 2  # sent: never again
    assert receiver.answered == [503] * 5 + [204]
    bodies = {request.body for request in receiver.requests}
    assert len(bodies) == 1  # the same signed payload every time
    (body,) = bodies
    assert json.loads(body)["alert_id"] == fired.alert_id and json.loads(body)["kind"] == "quota"


def test_a_delivery_that_keeps_failing_is_redelivered_at_most_the_set_number_of_times(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with webhook_receiver("/hook") as receiver:
        receiver.fail_next = 1000
        settings = _hooked(db, receiver.url, redeliveries=2)
        _tick(db, settings)
        tried = [len(redeliver_failed(lambda: _borrow(db), settings)) for _ in range(4)]
    assert tried == [1, 1, 0, 0]
    assert len(receiver.requests) == 2 + 2 * 2  # the first delivery and two redeliveries, 2 attempts each
    with Warehouse.open(db) as warehouse:
        (stored,) = list_alerts(warehouse)
    assert stored.delivered["webhook"].startswith("failed after redelivery 2: ")
