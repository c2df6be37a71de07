from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.domain.refs import parse_channel_ref
from tubescope.pipeline.incremental import (
    KnownChannel,
    WalkMode,
    decide_page,
    fresh_crawl_units,
    incremental_bound,
    incremental_units,
    plan_channel,
    refresh_batches,
    stats_units,
)

CHANNEL = "UC" + "a" * 22


def _simulate_incremental(new: int, known: int, *, stats_bucket: bool = False) -> int:
    """Walk a newest-first playlist of `new` unknown then `known` known ids page by page, as the
    collector does, and count the calls: an independent check of the closed-form cost."""
    playlist = [f"n{i:010d}" for i in range(new)] + [f"k{i:010d}" for i in range(known)]
    known_ids = frozenset(playlist[new:])
    calls = 1  # channels.list
    done: set[str] = set()
    deferred: tuple[str, ...] = ()
    for start in range(0, max(len(playlist), 1), 50):
        page = playlist[start : start + 50]
        token = "t" if start + 50 < len(playlist) else None
        calls += 1
        decision = decide_page(WalkMode.INCREMENTAL, page, known_ids, token, frozenset(done))
        if decision.fetch_ids:
            calls += 1
            done.update(decision.fetch_ids)
        deferred = deferred or decision.deferred
        if decision.stop:
            break
    if stats_bucket:  # new ones through videos.list, known ones counted in their own bucket
        return calls + len(refresh_batches((), frozenset(done), deferred=deferred))
    return calls + len(refresh_batches(known_ids, frozenset(done), deferred=deferred))


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 3000), st.integers(1, 3000), st.booleans())
def test_incremental_cost_matches_a_simulated_walk_and_keeps_the_promised_bound(
    new: int, known: int, stats_bucket: bool
) -> None:
    units = incremental_units(new, known, stats_bucket=stats_bucket)
    assert units == _simulate_incremental(new, known, stats_bucket=stats_bucket)
    assert units <= incremental_bound(new, new + known)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 3000), st.integers(1, 3000))
def test_a_rerun_fetches_n_videos_in_the_least_videos_list_calls(new: int, known: int) -> None:
    """New videos join the refresh batches: videos.list calls are ceil(N/50), no more, and the
    main bucket pays 2 + ceil(N/50) while fewer than 50 uploads are new."""
    walked = new // 50 + 1
    assert incremental_units(new, known) == 1 + walked + math.ceil((new + known) / 50)
    if new < 50:
        assert incremental_units(new, known) == 2 + math.ceil((new + known) / 50)
    # With videos.batchGetStats the known ones leave the main bucket for their own.
    assert incremental_units(new, known, stats_bucket=True) == 1 + walked + math.ceil(new / 50)
    assert stats_units(known) == math.ceil(known / 50)


def test_the_stop_page_defers_its_new_ids_to_the_refresh_batches() -> None:
    known = frozenset({"k1", "k2"})
    decision = decide_page(WalkMode.INCREMENTAL, ["n1", "n2", "k1", "k2"], known, "next")
    assert decision.stop and decision.fetch_ids == () and decision.deferred == ("n1", "n2")
    assert refresh_batches(known, frozenset(), 3, deferred=decision.deferred) == [["n1", "n2", "k1"], ["k2"]]


@given(st.integers(1, 25_000))
def test_fresh_crawl_is_one_plus_two_pages_per_fifty(uploads: int) -> None:
    assert fresh_crawl_units(uploads) == 1 + 2 * math.ceil(uploads / 50)


def test_full_mode_fetches_every_id_not_yet_done_and_stops_only_at_the_end() -> None:
    known = frozenset({"b" * 11})
    decision = decide_page(WalkMode.FULL, ["a" * 11, "b" * 11, "a" * 11], known, "next", frozenset())
    assert decision.fetch_ids == ("a" * 11, "b" * 11)
    assert not decision.stop
    done = decide_page(WalkMode.FULL, ["a" * 11], known, None, frozenset({"a" * 11}))
    assert done.fetch_ids == () and done.stop


def test_incremental_mode_stops_at_the_first_known_video_and_leaves_it_for_the_refresh() -> None:
    known = frozenset({"k" * 11})
    decision = decide_page(WalkMode.INCREMENTAL, ["n" * 11, "k" * 11], known, "more", frozenset())
    assert decision.fetch_ids == () and decision.deferred == ("n" * 11,)  # joins the refresh
    assert decision.known_seen == ("k" * 11,)
    assert decision.stop


def test_refresh_skips_what_this_crawl_already_fetched_in_stable_batches() -> None:
    ids = [f"v{i:010d}" for i in range(120)]
    batches = refresh_batches(ids, frozenset(ids[:10]))
    assert [len(b) for b in batches] == [50, 50, 10]
    assert sorted(i for batch in batches for i in batch) == ids[10:]


def test_plan_for_an_unknown_channel_is_a_full_crawl_with_the_exact_formula() -> None:
    ref = parse_channel_ref(CHANNEL)
    plan = plan_channel(ref, channel_id=CHANNEL, video_count=2_345, known=None, full=False)
    assert plan.mode is WalkMode.FULL
    assert plan.total_units == 1 + 2 * math.ceil(2_345 / 50)


def test_plan_for_a_known_channel_is_incremental_unless_full_is_asked() -> None:
    ref = parse_channel_ref(CHANNEL)
    known = KnownChannel(CHANNEL, frozenset(f"v{i:010d}" for i in range(100)), crawl_complete=True)
    plan = plan_channel(ref, channel_id=CHANNEL, video_count=130, known=known, full=False)
    assert plan.mode is WalkMode.INCREMENTAL
    assert plan.total_units == incremental_units(30, 100)
    forced = plan_channel(ref, channel_id=CHANNEL, video_count=130, known=known, full=True)
    assert forced.mode is WalkMode.FULL and forced.total_units == fresh_crawl_units(130)


def test_plan_caps_the_walk_at_the_uploads_playlist_limit_and_says_so() -> None:
    plan = plan_channel(
        parse_channel_ref(CHANNEL), channel_id=CHANNEL, video_count=25_000, known=None, full=False
    )
    assert plan.expected_uploads == 20_000
    assert plan.total_units == fresh_crawl_units(20_000)
    assert any("20000" in note for note in plan.notes)


def test_handles_cost_nothing_extra_but_video_urls_and_custom_urls_do() -> None:
    handle = plan_channel(
        parse_channel_ref("@somebody"), channel_id=None, video_count=10, known=None, full=False
    )
    video = plan_channel(
        parse_channel_ref("https://youtu.be/dQw4w9WgXcQ"),
        channel_id=None,
        video_count=10,
        known=None,
        full=False,
    )
    custom = plan_channel(
        parse_channel_ref("https://www.youtube.com/c/Vanity"),
        channel_id=None,
        video_count=10,
        known=None,
        full=False,
    )
    assert handle.total_units == fresh_crawl_units(10)
    assert video.total_units == fresh_crawl_units(10) + 1
    assert custom.total_units == fresh_crawl_units(10) + 100
