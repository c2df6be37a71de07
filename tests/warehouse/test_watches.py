"""Watch lists on both backends: add, update, remove, and ticks claimed once by racing schedulers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.warehouse.conftest import T0
from tubescope.warehouse import Warehouse
from tubescope.warehouse.watches import add_watches, claim_tick, list_watches, remove_watches


def test_watches_add_update_list_remove(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        assert add_watches(wh, ["UCb", "UCa"], every=timedelta(days=1), group="team", at=T0) == ["UCb", "UCa"]
        assert add_watches(wh, ["UCa"], every=timedelta(hours=6), group="fast", at=T0) == []
        listed = list_watches(wh)
        assert [(w.channel_id, w.every, w.group) for w in listed] == [
            ("UCa", timedelta(hours=6), "fast"),
            ("UCb", timedelta(days=1), "team"),
        ]
        assert [w.channel_id for w in list_watches(wh, "team")] == ["UCb"]
        assert remove_watches(wh, ["UCb", "UCzz"]) == 1
        assert [w.channel_id for w in list_watches(wh)] == ["UCa"]


def test_a_tick_is_claimed_once_and_a_long_downtime_caught_up_once(target: Path | str) -> None:
    with Warehouse.open(target) as wh:
        add_watches(wh, ["UCa"], every=timedelta(days=1), group="default", at=T0)
        (watch,) = list_watches(wh)
        assert watch.due(T0)
        assert claim_tick(wh, watch, T0)
        assert not claim_tick(wh, watch, T0)  # a second scheduler read the same row: refused
        (watch,) = list_watches(wh)
        assert watch.last_tick_at == T0 and not watch.due(T0 + timedelta(hours=23))
        later = T0 + timedelta(days=5)  # down for five days
        assert watch.due(later)
        assert claim_tick(wh, watch, later)
        (watch,) = list_watches(wh)
        assert not watch.due(later + timedelta(hours=1))  # one catch-up, not five
