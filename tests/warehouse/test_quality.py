from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tubescope.domain.models import Comment, VideoFormat, VideoSnapshot
from tubescope.warehouse.quality import (
    QualityRules,
    Rule,
    Severity,
    check_channel_snapshots,
    check_channels,
    check_comments,
    check_video_snapshots,
    check_videos,
    methodology_change_between,
)

from .conftest import T0, channel, csnap, video, vsnap

DAY = timedelta(days=1)


def _rules(snaps: list[VideoSnapshot], previous: dict[str, VideoSnapshot], **kw: object) -> list[Rule]:
    report = check_video_snapshots(snaps, previous=previous, now=T0 + 2 * DAY, **kw)  # type: ignore[arg-type]
    return [i.rule for i in report.issues]


def test_views_may_fall_only_within_the_audit_allowance() -> None:
    prev = {"v": vsnap("v", 100_000, at=T0)}
    rules = QualityRules(view_decrease_tolerance=0.01, view_decrease_floor=10)
    assert rules.view_decrease_allowance(100_000) == 1000 and rules.view_decrease_allowance(50) == 10
    assert _rules([vsnap("v", 99_000, at=T0 + DAY)], prev, rules=rules) == []
    assert _rules([vsnap("v", 98_999, at=T0 + DAY)], prev, rules=rules) == [Rule.VIEWS_DECREASED]
    assert _rules([vsnap("v", 150_000, at=T0 + DAY)], prev, rules=rules) == []


def test_a_fall_across_a_known_methodology_change_is_a_warning_not_a_rejection() -> None:
    before = datetime(2025, 3, 30, tzinfo=UTC)
    after = datetime(2025, 4, 2, tzinfo=UTC)
    prev = {"s": vsnap("s", 10_000, at=before), "l": vsnap("l", 10_000, at=before)}
    snaps = [vsnap("s", 5_000, at=after), vsnap("l", 5_000, at=after)]
    formats = {"s": VideoFormat.SHORT, "l": VideoFormat.LONG}
    report = check_video_snapshots(snaps, previous=prev, now=after, formats=formats)
    by_id = {i.entity_id: i for i in report.issues}
    assert by_id["s"].rule is Rule.VIEWS_DECREASED_ACROSS_METHODOLOGY and by_id["s"].severity is Severity.WARN
    assert by_id["l"].rule is Rule.VIEWS_DECREASED  # the 2025 change concerned Shorts only
    assert [s.video_id for s in report.accepted] == ["s"]
    rules = QualityRules()
    assert methodology_change_between(before, after, VideoFormat.LONG, rules) is None
    all_formats = methodology_change_between(
        datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC), VideoFormat.LONG, rules
    )
    assert all_formats is not None and all_formats.startswith("2026-08-27")


def test_snapshot_rules() -> None:
    prev = {"v": vsnap("v", 100, at=T0)}
    assert _rules([vsnap("v", -1, at=T0 + DAY)], prev) == [Rule.NEGATIVE_COUNT]
    assert _rules([vsnap("v", 1, at=T0 + DAY, likes=-2)], {}) == [Rule.NEGATIVE_COUNT]
    assert _rules([vsnap("v", 100, at=T0)], prev) == [Rule.DUPLICATE_SNAPSHOT]
    assert _rules([vsnap("v", 100, at=T0 - DAY)], prev) == [Rule.OUT_OF_ORDER]
    assert _rules([vsnap("v", 100, at=T0 + 5 * DAY)], prev) == [Rule.OBSERVED_IN_FUTURE]
    assert _rules([vsnap("w", 1, at=T0 + DAY), vsnap("w", 2, at=T0 + DAY)], {}) == [Rule.DUPLICATE_IN_BATCH]
    naive = VideoSnapshot("v", datetime(2026, 1, 1), 1, None, None)
    assert _rules([naive], {}) == [Rule.NAIVE_TIMESTAMP]
    # Hidden counts (None) are fine: hidden is not negative.
    assert _rules([vsnap("v", 150, at=T0 + DAY, likes=None, comments=None)], prev) == []


def test_video_channel_and_comment_rules() -> None:
    now = T0
    future = video("vfuture", published_at=now + DAY)
    report = check_videos([video("ok"), future, video("ok"), video("neg", duration=-5)], now=now)
    assert [(i.entity_id, i.rule) for i in report.issues] == [
        ("vfuture", Rule.PUBLISHED_IN_FUTURE),
        ("ok", Rule.DUPLICATE_IN_BATCH),
        ("neg", Rule.NEGATIVE_COUNT),
    ]
    assert [v.video_id for v in report.accepted] == ["ok"]
    assert "published_at" in report.issues[0].reason
    lying = replace(channel("UC1"), hidden_subscriber_count=True)
    zeroed = replace(channel("UC2", subscribers=None), hidden_subscriber_count=False)
    ch_report = check_channels([channel("UC0"), lying, zeroed], now=now)
    assert [i.rule for i in ch_report.issues] == [Rule.HIDDEN_FLAG_MISMATCH, Rule.HIDDEN_FLAG_MISMATCH]
    assert ch_report.count_by_rule() == {"hidden_flag_mismatch": 2}
    bad_comment = Comment("c2", "v", None, "a", "t", -1, now)
    c_report = check_comments([Comment("c1", "v", None, "a", "t", 0, now), bad_comment], now=now)
    assert [c.comment_id for c in c_report.accepted] == ["c1"]


def test_channel_totals_falling_is_a_warning_only() -> None:
    prev = {"UC1": csnap("UC1", at=T0, views=1000)}
    report = check_channel_snapshots([csnap("UC1", at=T0 + DAY, views=990)], previous=prev, now=T0 + DAY)
    assert report.ok and len(report.accepted) == 1
    assert [i.rule for i in report.warnings] == [Rule.CHANNEL_TOTAL_DECREASED]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d"]),
            st.integers(-5, 2000),
            st.integers(-3, 3),
            st.one_of(st.none(), st.integers(-1, 50)),
        ),
        max_size=12,
    )
)
def test_every_record_is_either_accepted_or_rejected_with_a_reason(
    rows: list[tuple[str, int, int, int | None]],
) -> None:
    previous = {"a": vsnap("a", 1000, at=T0), "b": vsnap("b", 5, at=T0)}
    snaps = [vsnap(vid, views, at=T0 + timedelta(hours=h), likes=likes) for vid, views, h, likes in rows]
    report = check_video_snapshots(snaps, previous=previous, now=T0 + DAY)
    rejected_records = [i.record for i in report.rejected]
    assert len(report.accepted) + len(rejected_records) == len(snaps)
    assert all(i.reason.startswith(i.rule.value) for i in report.issues)
    assert len({s.video_id for s in report.accepted}) == len(report.accepted)
    assert all(s.view_count >= 0 for s in report.accepted)


def test_every_channel_and_comment_rule_names_its_record() -> None:
    now = T0
    good = channel("UCgood000000000000000000")
    channels = [
        good,
        good,  # the same channel twice in one batch
        replace(channel("UCneg0000000000000000000"), view_count=-5),
        replace(channel("UCnaive00000000000000000"), published_at=datetime(2019, 5, 1)),
        replace(channel("UCfuture0000000000000000"), published_at=now + timedelta(days=3)),
    ]
    report = check_channels(channels, now=now)
    rules = {(issue.entity_id, issue.rule) for issue in report.issues}
    assert rules == {
        ("UCgood000000000000000000", Rule.DUPLICATE_IN_BATCH),
        ("UCneg0000000000000000000", Rule.NEGATIVE_COUNT),
        ("UCnaive00000000000000000", Rule.NAIVE_TIMESTAMP),
        ("UCfuture0000000000000000", Rule.PUBLISHED_IN_FUTURE),
    }
    assert [c.channel_id for c in report.accepted] == ["UCgood000000000000000000"]
    assert "view_count" in next(i.message for i in report.issues if i.rule is Rule.NEGATIVE_COUNT)

    fine = Comment("c-ok", "v", None, "a", "t", 0, now)
    comments = [
        fine,
        fine,
        replace(fine, comment_id="c-neg", reply_count=-1),
        replace(fine, comment_id="c-naive", published_at=datetime(2026, 1, 1)),
        replace(fine, comment_id="c-future", published_at=now + timedelta(days=2)),
    ]
    report_c = check_comments(comments, now=now)
    assert {(i.entity_id, i.rule) for i in report_c.issues} == {
        ("c-ok", Rule.DUPLICATE_IN_BATCH),
        ("c-neg", Rule.NEGATIVE_COUNT),
        ("c-naive", Rule.NAIVE_TIMESTAMP),
        ("c-future", Rule.PUBLISHED_IN_FUTURE),
    }
    assert [c.comment_id for c in report_c.accepted] == ["c-ok"] and not report_c.ok
    assert report_c.count_by_rule()[str(Rule.NAIVE_TIMESTAMP)] == 1
