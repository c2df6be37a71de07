"""The alert rules as pure functions: each fires on what it names and stays quiet otherwise; the
breakout rule's findings are checked against planted truth (precision and recall) and for false
alarms on a channel that has no breakouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.analysis.planted_frames import NOW, Planted, build_channel
from tubescope.analysis.alerts import (
    AlertInputs,
    AlertRule,
    Finding,
    RunRecord,
    evaluate,
    message,
)
from tubescope.errors import ConfigError

# pandas' deprecations (Pandas4Warning among them) fail these tests: the rules must keep working
# when the deprecated keywords are removed
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

T = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
CH = "UCalerts0000000000000000"


def _videos(published: list[datetime], channel_id: str = CH, fmt: str = "long") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": [f"vid{i:08d}" for i in range(len(published))],
            "channel_id": channel_id,
            "title": [f"Video {i}" for i in range(len(published))],
            "published_at": pd.to_datetime(published, utc=True),
            "video_format": fmt,
        }
    )


def _hourly_snapshots(videos: pd.DataFrame, final: dict[str, float], now: datetime) -> pd.DataFrame:
    """Hourly snapshots of each video up to ``now`` (views saturating towards ``final``)."""
    rows = []
    for row in videos.itertuples():
        published = row.published_at.to_pydatetime()
        hours = int((now - published).total_seconds() // 3600)
        for h in range(1, min(hours, 96) + 1):
            views = final[row.video_id] * (1 - 0.97**h)
            rows.append((row.video_id, row.channel_id, published + timedelta(hours=h), round(views)))
    return pd.DataFrame(rows, columns=["video_id", "channel_id", "observed_at", "view_count"])


def _breakout_frames(multiplier: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    published = [T - timedelta(hours=30 + 12 * i) for i in range(10)]
    videos = _videos(published)
    final = {vid: 10_000.0 * (1 + 0.05 * (i % 3)) for i, vid in enumerate(videos["video_id"])}
    planted = str(videos["video_id"].iloc[0])
    final[planted] *= multiplier
    return videos, _hourly_snapshots(videos, final, T), planted


def test_breakout_fires_once_for_the_planted_video_with_its_score_and_a_link() -> None:
    videos, snapshots, planted = _breakout_frames(8.0)
    rule = AlertRule("breakouts", "breakout", 5.0)
    inputs = AlertInputs(videos=videos, video_snapshots=snapshots, channel_titles={CH: "Alerts Ch"})
    (finding,) = evaluate([rule], inputs, T)
    assert (finding.kind, finding.video_id, finding.channel_id) == ("breakout", planted, CH)
    assert finding.key == f"breakouts:{planted}"
    assert 7.0 < finding.value < 9.0  # 8x the peers' median, give or take their spread
    assert f"{finding.value:.1f}x" in finding.summary and "at 1h" in finding.summary
    text = message(finding, "https://ts.example/")
    assert text.startswith("Breakout on Alerts Ch") and text.endswith(f"https://ts.example/channels/{CH}")
    # below the threshold, or without enough peers at that age: nothing
    assert evaluate([AlertRule("b", "breakout", 10.0)], inputs, T) == []
    assert evaluate([AlertRule("b", "breakout", 5.0, min_peers=20)], inputs, T) == []
    # a channel the rule does not watch: nothing
    assert evaluate([AlertRule("b", "breakout", 5.0, channel_ids=("UCother",))], inputs, T) == []


def test_breakout_stays_quiet_without_a_breakout() -> None:
    videos, snapshots, _ = _breakout_frames(1.0)
    inputs = AlertInputs(videos=videos, video_snapshots=snapshots)
    assert evaluate([AlertRule("breakouts", "breakout", 5.0)], inputs, T) == []


def test_a_new_video_is_not_scored_against_peers_read_off_lines_to_their_first_snapshot() -> None:
    # Watching starts at T - 24 h. Four videos published in the two days before were first seen
    # then, 30-45 h old; a new one is sampled at 1 h. All gain views the same concave way, so
    # none is a breakout; a 1 h value on a straight line to the first snapshot would be a third
    # of the truth (and the new video 3x its peers).
    start = T - timedelta(hours=24)
    published = [start - timedelta(hours=30 + 5 * i) for i in range(4)] + [T - timedelta(hours=1.5)]
    videos = _videos(published)

    def views(hours: float) -> int:
        return round(10_000 * (1 - 0.97**hours))

    first = [
        (v, start, views((start - p).total_seconds() / 3600))
        for v, p in zip(videos["video_id"][:4], published[:4], strict=True)
    ]
    snapshots = pd.DataFrame(first, columns=["video_id", "observed_at", "view_count"])
    new_video = str(videos["video_id"].iloc[-1])
    early = pd.DataFrame(
        {"video_id": [new_video], "slot_hours": [1.0], "view_count": [views(1.5)], "observed_at": [T]}
    )
    snapshots = pd.concat([snapshots, early.drop(columns="slot_hours")], ignore_index=True)
    snapshots["observed_at"] = pd.to_datetime(snapshots["observed_at"], utc=True)
    early["observed_at"] = pd.to_datetime(early["observed_at"], utc=True)
    inputs = AlertInputs(videos=videos, video_snapshots=snapshots, early_points=early)
    assert evaluate([AlertRule("breakouts", "breakout", 2.0, min_peers=3)], inputs, T) == []


def _sweep(channel_spec: Planted, rule: AlertRule) -> set[str]:
    """Video ids the rule flags when evaluated every 3 days over the last 120 days (a video is
    checkable at 72 h for four days, until the rule's week-long lookback passes)."""
    channel = build_channel(channel_spec)
    frames = channel.frames
    inputs = AlertInputs(videos=frames.videos, video_snapshots=frames.video_snapshots)
    flagged: set[str] = set()
    for back in range(0, 120, 3):
        flagged |= {f.video_id or "" for f in evaluate([rule], inputs, NOW - timedelta(days=back))}
    return flagged


def test_breakout_against_planted_truth_and_false_alarms_on_a_channel_without_breakouts() -> None:
    rule = AlertRule("breakouts", "breakout", 4.0, ages_hours=(72.0,))
    spec = Planted(breakout_share=0.12, seed=3)
    truth = build_channel(spec)
    videos = truth.frames.videos
    window = videos[pd.to_datetime(videos["published_at"], utc=True) > NOW - timedelta(days=120)]
    planted = set(window["video_id"]) & set(truth.breakout_ids)
    assert len(planted) >= 5, "the planted channel has breakouts in the swept window"
    flagged = _sweep(spec, rule)
    assert flagged <= set(truth.breakout_ids)  # precision 1: every alert is a planted breakout
    assert len(flagged & planted) >= 0.8 * len(planted)  # recall
    # the same channel with no breakouts: no alarm over 40 evaluations
    assert _sweep(Planted(breakout_share=0.0, seed=3), rule) == set()


def _pair(channel_id: str, first: float, second: float, hours: float, end: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": "vid00000000",
            "channel_id": channel_id,
            "observed_at": pd.to_datetime([end - timedelta(hours=hours), end], utc=True),
            "view_count": [first, second],
        }
    )


def test_views_per_hour() -> None:
    videos = _videos([T - timedelta(days=3)])
    inputs = AlertInputs(videos=videos, video_snapshots=_pair(CH, 1_000, 2_000, 2, T))
    (finding,) = evaluate([AlertRule("fast", "views_per_hour", 400)], inputs, T)
    assert finding.value == 500.0 and "500 views an hour" in finding.summary
    assert evaluate([AlertRule("fast", "views_per_hour", 600)], inputs, T) == []
    # news older than a day raises nothing
    assert evaluate([AlertRule("fast", "views_per_hour", 400)], inputs, T + timedelta(days=2)) == []


def _subs(counts: list[int]) -> pd.DataFrame:
    times = [T - timedelta(days=len(counts) - 1 - i) for i in range(len(counts))]
    return pd.DataFrame(
        {"channel_id": CH, "observed_at": pd.to_datetime(times, utc=True), "subscriber_count": counts}
    )


def test_subscriber_drop() -> None:
    inputs = AlertInputs(channel_snapshots=_subs([1000, 1010, 990, 959]))
    (finding,) = evaluate([AlertRule("drop", "subscriber_drop", 0.02)], inputs, T)
    assert finding.value == pytest.approx(51 / 1010, abs=1e-6)
    assert "lost 51 subscribers" in finding.summary and "1,010 to 959" in finding.summary
    assert evaluate([AlertRule("drop", "subscriber_drop", 0.1)], inputs, T) == []
    growing = AlertInputs(channel_snapshots=_subs([1000, 1010, 1020]))
    assert evaluate([AlertRule("drop", "subscriber_drop", 0.02)], growing, T) == []


def test_upload_gap() -> None:
    weekly = [T - timedelta(days=15 + 7 * i) for i in range(8)]
    inputs = AlertInputs(videos=_videos(weekly))
    (finding,) = evaluate([AlertRule("gap", "upload_gap", 1.5)], inputs, T)
    assert finding.value == pytest.approx(15 / 7, rel=1e-3)
    assert "15.0 days" in finding.summary and "7.0 days" in finding.summary
    # the same channel eight days after its last upload is on schedule
    on_time = AlertInputs(videos=_videos([T - timedelta(days=8 + 7 * i) for i in range(8)]))
    assert evaluate([AlertRule("gap", "upload_gap", 1.5)], on_time, T) == []


def test_quota() -> None:
    inputs = AlertInputs(
        quota_left={("key-aaaa", "default"): 1_500, ("key-bbbb", "default"): 3_000},
        quota_daily_units=10_000,
        quota_day="2026-05-20",
    )
    (finding,) = evaluate([AlertRule("quota", "quota", 0.8)], inputs, T)
    assert finding.key == "quota:key-aaaa:default:2026-05-20" and finding.value == 0.85
    assert "85%" in finding.summary and "8,500 of 10,000" in finding.summary
    assert message(finding, "https://ts.example") == finding.summary  # about no channel: no link


def test_collection_failed() -> None:
    runs = (
        RunRecord(7, "failed", T - timedelta(hours=1), (CH,), "the API answered 500"),
        RunRecord(8, "succeeded", T - timedelta(hours=1), (CH,), None),
        RunRecord(6, "quota_stopped", T - timedelta(days=3), (CH,), None),
    )
    (finding,) = evaluate([AlertRule("failed", "collection_failed", 0.0)], AlertInputs(runs=runs), T)
    assert finding.key == "failed:run:7" and finding.channel_id == CH
    assert "run 7" in finding.summary and "ended failed: the API answered 500" in finding.summary


@pytest.mark.parametrize(
    ("kind", "threshold", "extra"),
    [
        ("nonsense", 1.0, {}),
        ("quota", 1.5, {}),
        ("breakout", -1.0, {}),
        ("breakout", 5.0, {"ages_hours": (0.0,)}),
        ("breakout", 5.0, {"cooldown": timedelta(hours=-1)}),
    ],
)
def test_impossible_rules_are_typed_errors(kind: str, threshold: float, extra: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        AlertRule("r", kind, threshold, **extra)  # type: ignore[arg-type]


def test_findings_are_plain_values() -> None:
    finding = Finding("r", "quota", "k", "s", None, None, 1.0, 0.8, T, "text")
    assert message(finding, None) == "text"


def test_an_incomplete_run_is_a_failed_collection() -> None:
    gaps = "incomplete: 50 video(s) of 1 channel(s) not fetched after retries; collect again"
    runs = (RunRecord(9, "incomplete", T - timedelta(hours=2), (CH,), gaps),)
    (finding,) = evaluate([AlertRule("failed", "collection_failed", 0.0)], AlertInputs(runs=runs), T)
    assert finding.key == "failed:run:9" and f"ended incomplete: {gaps}." in finding.summary


def test_rules_see_nothing_to_judge_as_nothing_fired() -> None:
    with pytest.raises(ConfigError, match="'b': min_peers must be at least 1"):
        AlertRule("b", "breakout", 5.0, min_peers=0)
    empty = AlertInputs()
    rules = [AlertRule("fast", "views_per_hour", 1.0), AlertRule("drop", "subscriber_drop", 0.01)]
    assert evaluate(rules, empty, T) == []
    videos = _videos([T - timedelta(days=3)])
    one_snapshot = _pair(CH, 1_000, 2_000, 2, T).iloc[1:]  # no second snapshot: no rate
    assert evaluate(rules[:1], AlertInputs(videos=videos, video_snapshots=one_snapshot), T) == []
    # a video of a channel the rule does not cover, and one nobody knows the channel of
    elsewhere = AlertRule("fast", "views_per_hour", 1.0, channel_ids=("UCother",))
    pair = _pair(CH, 1_000, 2_000, 2, T)
    assert evaluate([elsewhere], AlertInputs(videos=videos, video_snapshots=pair), T) == []
    orphan = pair.assign(video_id="vidunknown1")
    assert evaluate(rules[:1], AlertInputs(videos=videos, video_snapshots=orphan), T) == []
    # subscribers: another channel's drop, and a drop that is more than a day old
    drop = _subs([1000, 1010, 990, 900])
    assert (
        evaluate(
            [AlertRule("drop", "subscriber_drop", 0.02, channel_ids=("UCother",))],
            AlertInputs(channel_snapshots=drop),
            T,
        )
        == []
    )
    assert evaluate([rules[1]], AlertInputs(channel_snapshots=drop), T + timedelta(days=3)) == []
    assert len(evaluate([rules[1]], AlertInputs(channel_snapshots=drop), T)) == 1  # the same drop, in time
