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


def test_early_points_keep_the_first_sample_of_each_age(target: Path | str) -> None:
    from tubescope.warehouse.watches import EarlyPoint, early_points, record_early_points, taken_slots

    with Warehouse.open(target) as wh:
        run_id = wh.start_run("watch", ["UCa"], [], started_at=T0)
        first = EarlyPoint("v1", "UCa", 1.0, T0 + timedelta(minutes=70), 70 / 60, 10, 1, None)
        late = EarlyPoint("v1", "UCa", 1.0, T0 + timedelta(minutes=110), 110 / 60, 99, 2, 0)
        other = EarlyPoint("v2", "UCb", 24.0, T0 + timedelta(hours=24), 24.0, 500, None, None)
        assert record_early_points(wh, run_id, [first, other]) == 2
        assert record_early_points(wh, run_id, [late]) == 0  # a retried pass: the first stays
        assert taken_slots(wh, ["v1", "v9"]) == {("v1", 1.0)}
        assert early_points(wh, ["UCa"]) == [first]
        assert [p.video_id for p in early_points(wh)] == ["v1", "v2"]


def test_a_dense_pass_is_claimed_once_per_hour(target: Path | str) -> None:
    from tubescope.warehouse.watches import claim_dense_pass

    with Warehouse.open(target) as wh:
        assert claim_dense_pass(wh, T0, T0)
        assert not claim_dense_pass(wh, T0, T0 + timedelta(minutes=1))  # a later tick, or a replica
        assert claim_dense_pass(wh, T0 + timedelta(hours=1), T0 + timedelta(hours=1))
