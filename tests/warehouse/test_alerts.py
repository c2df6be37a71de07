"""Alerts on both backends: claimed once, cooldowns kept across restarts and racing replicas,
delivery outcomes (a failed one's next round claimed once), listing, and rules stored through
REST."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.warehouse.conftest import T0
from tubescope.warehouse import Warehouse
from tubescope.warehouse.alerts import (
    claim_alert,
    claim_redelivery,
    delete_rule,
    failed_deliveries,
    list_alerts,
    record_delivery,
    save_rule,
    stored_rules,
)


def _claim(wh: Warehouse, key: str, *, subject: str = "v1", at: Any = T0, cooldown_h: float = 24) -> Any:
    return claim_alert(
        wh,
        dedupe_key=key,
        rule="breakouts",
        subject=subject,
        cooldown=timedelta(hours=cooldown_h),
        channel_id="UCa",
        video_id=subject,
        value=7.5,
        message=f"alert {key}",
        now=at,
    )


def test_an_alert_is_claimed_once_and_its_cooldown_survives_a_restart(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        first = _claim(wh, "breakouts:v1")
        assert first is not None and first.value == 7.5 and first.delivered == {}
        assert _claim(wh, "breakouts:v1") is None  # the same event again: refused
        # another event about the same subject within the cooldown: refused, nothing stored
        assert _claim(wh, "breakouts:v1:again", at=T0 + timedelta(hours=5)) is None
        # a different subject is not cooling down
        assert _claim(wh, "breakouts:v2", subject="v2") is not None
        record_delivery(wh, first.alert_id, {"webhook": "sent", "email": "failed: the server answered 451"})
    with Warehouse.open(target) as wh:  # a restart (or another replica) reads the same state
        assert _claim(wh, "breakouts:v1:later", at=T0 + timedelta(hours=23)) is None
        later = _claim(wh, "breakouts:v1:later", at=T0 + timedelta(hours=24))
        assert later is not None  # the cooldown has passed
        listed = list_alerts(wh)
        assert [a.dedupe_key for a in listed] == ["breakouts:v1:later", "breakouts:v1", "breakouts:v2"] or [
            a.dedupe_key for a in listed
        ] == ["breakouts:v1:later", "breakouts:v2", "breakouts:v1"]
        stored = {a.dedupe_key: a for a in listed}
        assert stored["breakouts:v1"].delivered == {
            "webhook": "sent",
            "email": "failed: the server answered 451",
        }
        assert stored["breakouts:v1"].fired_at == T0
        assert [a.dedupe_key for a in list_alerts(wh, limit=1)] == ["breakouts:v1:later"]
        assert {a.video_id for a in list_alerts(wh, channel_id="UCa")} == {"v1", "v2"}
        assert list_alerts(wh, rule="other") == []


def test_racing_replicas_send_one_alert(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        wh.fetchone("SELECT 1")  # migrated before the race
    if isinstance(target, Path):
        # DuckDB: one process holds the file, so "replicas" are successive openers (restarts)
        won = 0
        for n in range(4):
            with Warehouse.open(target) as wh:
                won += _claim(wh, f"breakouts:v9:{n}", subject="v9") is not None
    else:
        won = _race(target)
    assert won == 1
    with Warehouse.open(target) as wh:
        assert len(list_alerts(wh)) == 1


def _race(target: str) -> int:
    """Four PostgreSQL connections claim alerts about one subject at the same moment."""
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def replica(n: int) -> None:
        try:
            with Warehouse.open(target) as wh:
                barrier.wait()
                results.append(_claim(wh, f"breakouts:v9:{n}", subject="v9"))
        except BaseException as exc:  # re-raised in the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return sum(1 for r in results if r is not None)


def test_rules_stored_through_rest(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        assert save_rule(wh, "fast", {"name": "fast", "kind": "views_per_hour", "threshold": 100}, T0)
        assert not save_rule(wh, "fast", {"name": "fast", "kind": "views_per_hour", "threshold": 200}, T0)
        save_rule(wh, "drop", {"name": "drop", "kind": "subscriber_drop"}, T0)
        assert [r["name"] for r in stored_rules(wh)] == ["drop", "fast"]
        assert stored_rules(wh)[1]["threshold"] == 200
        assert delete_rule(wh, "fast") and not delete_rule(wh, "fast")
        assert [r["name"] for r in stored_rules(wh)] == ["drop"]


def test_a_failed_delivery_is_found_and_its_next_round_claimed_once(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        sent, failed = _claim(wh, "breakouts:v1"), _claim(wh, "breakouts:v2", subject="v2")
        assert sent is not None and failed is not None
        record_delivery(wh, sent.alert_id, {"webhook": "sent"})
        record_delivery(wh, failed.alert_id, {"webhook": "sent", "email": "failed: the server answered 451"})
        (found,) = failed_deliveries(wh)
        assert found.alert.alert_id == failed.alert_id
        trying = {"webhook": "sent", "email": "redelivering (1 of 4)"}
        assert claim_redelivery(wh, found, trying)
        assert not claim_redelivery(wh, found, trying)  # a replica that read the same: refused
        assert failed_deliveries(wh) == []  # being tried: not failed
    with Warehouse.open(target) as wh:
        (stored,) = [a for a in list_alerts(wh) if a.alert_id == failed.alert_id]
        assert stored.delivered == trying


def test_a_rounds_outcome_is_kept_only_while_its_claim_stands(target: Path | str) -> None:
    first = "sending since 2026-03-01T12:00:00+00:00"
    with Warehouse.open(target) as wh:
        alert = claim_alert(
            wh,
            dedupe_key="breakouts:v1",
            rule="breakouts",
            subject="v1",
            cooldown=timedelta(hours=24),
            channel_id="UCa",
            video_id="v1",
            value=7.5,
            message="alert",
            now=T0,
            claims={"webhook": first, "email": first},
        )
        assert alert is not None and alert.delivered == {"webhook": first, "email": first}
        assert failed_deliveries(wh) == []  # being sent: not failed
        (claimed,) = failed_deliveries(wh, prefixes=("failed", "sending", "redelivering"))
        # the claim expired and another replica took the round over ...
        later = "redelivering (1 of 4) since 2026-03-01T12:10:00+00:00"
        assert claim_redelivery(wh, claimed, {"webhook": later, "email": later})
        # ... so the outcome of the round it took over from is refused, and the takeover's is kept
        assert not record_delivery(wh, alert.alert_id, {"webhook": "sent", "email": "sent"}, claims=[first])
        done = {"webhook": "sent on redelivery 1", "email": "failed after redelivery 1: 451"}
        assert record_delivery(wh, alert.alert_id, done, claims=[later])
        assert not record_delivery(wh, alert.alert_id, {"webhook": "failed: x", "email": "x"}, claims=[later])
    with Warehouse.open(target) as wh:
        (stored,) = list_alerts(wh)
        assert stored.delivered == done
