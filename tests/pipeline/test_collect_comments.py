"""--comments: threads, replies beyond the inline ones, disabled comments, idempotent storage."""

from __future__ import annotations

import math
from pathlib import Path

from tests.pipeline.helpers import collect, ledger_calls, rows
from tubescope.emulator.world import World
from tubescope.pipeline.run import CollectOptions, RunState
from tubescope.testing import running_emulator

INLINE_REPLIES = 5  # what commentThreads.list carries per thread before comments.list is needed


def test_comments_and_all_their_replies_are_stored_once_and_disabled_ones_skipped(tmp_path: Path) -> None:
    world = World(seed=3, n_channels=3, videos_per_channel=15)
    channel_id = world.channel_ids()[1]
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        observation = world.observe(emu.clock.now())
        enabled, disabled, threads, replies, long_threads, thread_pages = [], [], 0, 0, 0, 0
        for video_id in observation.uploads(channel_id):
            if observation.video(video_id).comments_disabled:
                disabled.append(video_id)
                continue
            enabled.append(video_id)
            count = observation.thread_count(video_id)
            threads += count
            thread_pages += max(1, math.ceil(count / 100))
            for thread in observation.comment_threads(video_id, 0, count):
                replies += thread.total_reply_count
                long_threads += thread.total_reply_count > INLINE_REPLIES
        summary = collect(emu, db, [channel_id], options=CollectOptions(comments=True))
        calls = ledger_calls(emu)
        again = collect(emu, db, [channel_id], options=CollectOptions(comments=True))
    assert disabled, "the chosen channel should have videos with comments disabled"
    assert summary.status is RunState.COMPLETED
    assert rows(db, "SELECT count(*) FROM comments WHERE parent_id IS NULL") == [(threads,)]
    assert rows(db, "SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == [(replies,)]
    assert summary.comments == threads + replies
    assert calls["commentThreads.list"] == thread_pages + len(disabled)
    assert calls["comments.list"] == long_threads
    skipped = {s.item_id: s.reason for s in summary.skipped if s.kind == "comments"}
    assert skipped == dict.fromkeys(disabled, "commentsDisabled")
    # a second run refreshes the same comments instead of adding copies
    assert again.status is RunState.COMPLETED
    assert rows(db, "SELECT count(*), count(DISTINCT comment_id) FROM comments") == [
        (threads + replies, threads + replies)
    ]


def test_max_comments_caps_the_threads_per_video(tmp_path: Path) -> None:
    world = World(seed=3, n_channels=3, videos_per_channel=15)
    channel_id = world.channel_ids()[1]
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        observation = world.observe(emu.clock.now())
        expected = sum(
            min(3, observation.thread_count(v))
            for v in observation.uploads(channel_id)
            if not observation.video(v).comments_disabled
        )
        collect(emu, db, [channel_id], options=CollectOptions(comments=True, max_comments=3))
    per_video = rows(
        db,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM comments WHERE parent_id IS NULL GROUP BY video_id)",
    )
    assert per_video[0][0] <= 3
    assert rows(db, "SELECT count(*) FROM comments WHERE parent_id IS NULL") == [(expected,)]
