from __future__ import annotations

from datetime import UTC, datetime

from tubescope.emulator.quota import COST_TABLE, QuotaLedger, key_fingerprint, quota_day
from tubescope.logging import key_fingerprint as logging_fingerprint


def test_quota_days_follow_pacific_time_in_summer_and_winter() -> None:
    assert quota_day(datetime(2026, 7, 1, 6, 59, tzinfo=UTC)).isoformat() == "2026-06-30"  # PDT, UTC-7
    assert quota_day(datetime(2026, 7, 1, 7, 0, tzinfo=UTC)).isoformat() == "2026-07-01"
    assert quota_day(datetime(2026, 1, 15, 7, 59, tzinfo=UTC)).isoformat() == "2026-01-14"  # PST, UTC-8
    assert quota_day(datetime(2026, 1, 15, 8, 0, tzinfo=UTC)).isoformat() == "2026-01-15"


def test_search_costs_a_hundred_and_cannot_overdraw() -> None:
    ledger = QuotaLedger({"k": 150})
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert COST_TABLE["search.list"] == 100
    assert ledger.try_charge("k", "search.list", now)
    assert not ledger.try_charge("k", "search.list", now)  # 100 + 100 > 150: refused, nothing spent
    assert ledger.remaining("k", now) == 50
    for _ in range(50):
        assert ledger.try_charge("k", "videos.list", now)
    assert ledger.exhausted("k", "videos.list", now)
    ledger.charge_rejected("k", "videos.list", now)  # nothing left to take
    assert ledger.used_today("k", now) == 150
    usage = ledger.usage("k")
    assert usage["search.list"].calls == 2 and usage["search.list"].units == 100
    assert usage["videos.list"].rejected == 1


def test_snapshot_names_keys_by_the_same_fingerprint_the_logs_use() -> None:
    ledger = QuotaLedger({"secret-key-123": 10})
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    ledger.try_charge("secret-key-123", "channels.list", now)
    snapshot = ledger.snapshot(now)
    assert "secret-key-123" not in str(snapshot)
    assert key_fingerprint("secret-key-123") == logging_fingerprint("secret-key-123")
    entry = snapshot["keys"][key_fingerprint("secret-key-123")]
    assert entry["used_today"] == 1 and entry["remaining_today"] == 9
    assert entry["methods"]["channels.list"] == {"units": 1, "calls": 1, "rejected": 0}
