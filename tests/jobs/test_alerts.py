"""The alert job: a half-configured delivery is refused before anything is claimed, a delivery
that keeps failing is stored with the alert (once, without secrets) instead of failing the check,
a failed delivery is tried again when later runs land, a set number of times at most, and a
round cut short by a kill is taken over, once, after its claim's lease."""

from __future__ import annotations

import json
import re
import threading
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.watch.receivers import Received, webhook_receiver
from tubescope.config import AlertRuleSettings, Settings, load_settings
from tubescope.errors import ConfigError
from tubescope.jobs.alerts import TICK_KINDS, QuotaFigures, after_run, check, parse_rule, redeliver_failed
from tubescope.jobs.common import warehouse_target
from tubescope.warehouse import Warehouse
from tubescope.warehouse.alerts import StoredAlert, claim_alert, list_alerts

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


# --- a round cut short by a kill (between its claim and its recorded outcome) ---------------

LEASE = 300.0
AT = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
"""The wall-clock moment the redelivery passes below run at (claims are dated by the wall clock)."""


@pytest.fixture(params=("duckdb", "postgresql"))
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Each backend in turn: a DuckDB file, then a fresh PostgreSQL database (skipped with a
    reason where PostgreSQL is absent)."""
    if request.param == "duckdb":
        return tmp_path / "a.duckdb"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _leased(url: str, redeliveries: int = 3) -> Settings:
    return load_settings(
        alert_rules=RULES,
        alert_webhook_url=url,
        alert_webhook_secret="s3cret-77",
        alert_retries=2,
        alert_retry_wait_seconds=0.01,
        alert_redeliveries=redeliveries,
        alert_claim_lease_seconds=LEASE,
    )


def _killed_mid_round(where: Path | str, status: str) -> StoredAlert:
    """What a process killed after claiming a round and before recording it leaves behind: the
    quota alert, stored with its webhook round claimed (``status``) and no outcome."""
    with Warehouse.open(where) as warehouse:
        alert = claim_alert(
            warehouse,
            dedupe_key="quota:key-abcdef:default:2026-05-20",
            rule="quota",
            subject="key-abcdef:default",
            cooldown=timedelta(hours=24),
            channel_id=None,
            video_id=None,
            value=0.95,
            message="Quota: 95% of key-abcdef's day used",
            now=NOW,
            claims={"webhook": status},
        )
    assert alert is not None
    return alert


def _stored(where: Path | str) -> StoredAlert:
    with Warehouse.open(where) as warehouse:
        (stored,) = list_alerts(warehouse)
    return stored


def _since(moment: datetime) -> str:
    return f"since {moment.isoformat()}"


def test_the_first_delivery_is_claimed_before_it_is_sent(where: Path | str) -> None:
    seen: list[dict[str, str]] = []

    def look(_: Received) -> None:  # what a kill at this moment would leave stored
        seen.append(dict(_stored(where).delivered))

    with webhook_receiver("/hook") as receiver:
        receiver.during = look
        before = datetime.now(UTC)
        (fired,) = check(
            lambda: Warehouse.open(where),
            _leased(receiver.url),
            channel_ids=[],
            kinds=TICK_KINDS,
            now=NOW,
            quota=QUOTA,
        )
        after = datetime.now(UTC)
    (in_flight,) = seen
    claim = re.fullmatch(r"sending since (\S+)", in_flight["webhook"])
    assert claim is not None and before <= datetime.fromisoformat(claim.group(1)) <= after
    assert fired.delivered == {"webhook": "sent"} == _stored(where).delivered


@pytest.mark.parametrize(
    ("left", "then"),
    [
        (f"sending {_since(AT - timedelta(seconds=LEASE + 1))}", "sent on redelivery 1"),
        (f"redelivering (1 of 3) {_since(AT - timedelta(hours=6))}", "sent on redelivery 2"),
        ("redelivering (2 of 3)", "sent on redelivery 3"),  # claimed by a version that wrote no time
    ],
    ids=["first-delivery", "redelivery", "undated-claim"],
)
def test_a_round_cut_short_by_a_kill_is_taken_over_after_the_lease_and_sent_once(
    where: Path | str, left: str, then: str
) -> None:
    crashed = _killed_mid_round(where, left)
    with webhook_receiver("/hook") as receiver:
        settings = _leased(receiver.url)
        (taken,) = redeliver_failed(lambda: Warehouse.open(where), settings, clock=lambda: AT)
        later = [
            redeliver_failed(
                lambda: Warehouse.open(where), settings, clock=lambda h=h: AT + timedelta(hours=h)
            )
            for h in (1, 2)
        ]
    assert taken.alert_id == crashed.alert_id and taken.delivered == {"webhook": then}
    assert later == [[], []] and _stored(where).delivered == {"webhook": then}
    (request,) = receiver.requests  # sent once, however many passes follow
    assert request.headers["Idempotency-Key"] == crashed.alert_id == json.loads(request.body)["alert_id"]


def test_a_fresh_claim_is_left_to_the_round_that_holds_it(where: Path | str) -> None:
    claimed_at = AT - timedelta(seconds=60)
    left = f"sending {_since(claimed_at)}"
    _killed_mid_round(where, left)
    with webhook_receiver("/hook") as receiver:
        settings = _leased(receiver.url)
        assert redeliver_failed(lambda: Warehouse.open(where), settings, clock=lambda: AT) == []
        assert receiver.requests == [] and _stored(where).delivered == {"webhook": left}
        # the lease runs out: the round counts as spent, and the next one is sent
        expiry = claimed_at + timedelta(seconds=LEASE)
        (taken,) = redeliver_failed(lambda: Warehouse.open(where), settings, clock=lambda: expiry)
    assert taken.delivered == {"webhook": "sent on redelivery 1"} and len(receiver.requests) == 1


def test_racing_takeovers_of_an_expired_claim_send_it_once(where: Path | str) -> None:
    _killed_mid_round(where, f"redelivering (1 of 3) {_since(AT - timedelta(hours=1))}")
    replicas = 4
    barrier = threading.Barrier(replicas)
    tried: list[int] = []
    errors: list[BaseException] = []
    with webhook_receiver("/hook") as receiver:
        settings = _leased(receiver.url)

        def replica() -> None:
            try:
                barrier.wait()
                tried.append(len(redeliver_failed(lambda: Warehouse.open(where), settings, clock=lambda: AT)))
            except BaseException as exc:  # re-raised in the test's thread below
                errors.append(exc)

        threads = [threading.Thread(target=replica) for _ in range(replicas)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert sorted(tried) == [0] * (replicas - 1) + [1] and len(receiver.requests) == 1
    assert _stored(where).delivered == {"webhook": "sent on redelivery 2"}


@pytest.mark.parametrize(
    ("redeliveries", "left", "then"),
    [
        (2, "redelivering (2 of 2)", "failed after redelivery 2: interrupted"),
        (0, "sending", "failed: interrupted"),
    ],
    ids=["last-redelivery", "no-redeliveries"],
)
def test_a_round_cut_short_counts_as_spent(
    where: Path | str, redeliveries: int, left: str, then: str
) -> None:
    claimed = f"{left} {_since(AT - timedelta(hours=1))}"
    _killed_mid_round(where, claimed)
    with webhook_receiver("/hook") as receiver:
        settings = _leased(receiver.url, redeliveries=redeliveries)
        passes = [
            redeliver_failed(
                lambda: Warehouse.open(where), settings, clock=lambda h=h: AT + timedelta(hours=h)
            )
            for h in range(3)
        ]
    # no round is left to try: nothing is sent, but the claim no longer says it is being sent
    assert passes == [[], [], []] and receiver.requests == []
    status = _stored(where).delivered["webhook"]
    assert status.startswith(f"{then} (claimed {(AT - timedelta(hours=1)).isoformat()}): ")
    assert "no outcome recorded within 300 s" in status
