"""Data-quality checks run before load: pure functions returning a typed report.

Rows that fail a *reject* rule go to the quarantine with the rule as reason; *warn* findings are
stored anyway and reported. The rules follow how YouTube counts behave: a video's views only
fall when YouTube audits spam views away (a small correction) or across a known change of view
methodology; a channel's total views and video count legitimately fall when uploads are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from tubescope.domain.frames import VIEW_METHODOLOGY_CHANGES
from tubescope.domain.models import Channel, ChannelSnapshot, Comment, Video, VideoFormat, VideoSnapshot

T = TypeVar("T")


class Severity(StrEnum):
    """Whether a rule violation rejects the record or only warns."""

    REJECT = "reject"
    WARN = "warn"


class Rule(StrEnum):
    """The data-quality rules a record is checked against."""

    NEGATIVE_COUNT = "negative_count"
    PUBLISHED_IN_FUTURE = "published_in_future"
    OBSERVED_IN_FUTURE = "observed_in_future"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    DUPLICATE_SNAPSHOT = "duplicate_snapshot"
    OUT_OF_ORDER = "out_of_order_snapshot"
    VIEWS_DECREASED = "views_decreased"
    VIEWS_DECREASED_ACROSS_METHODOLOGY = "views_decreased_across_methodology_change"
    CHANNEL_TOTAL_DECREASED = "channel_total_decreased"
    HIDDEN_FLAG_MISMATCH = "hidden_flag_mismatch"
    NAIVE_TIMESTAMP = "naive_timestamp"


@dataclass(frozen=True, slots=True)
class QualityRules:
    """Allowances. A video's views may drop by ``max(floor, tolerance × previous)`` (spam audits)."""

    view_decrease_tolerance: float = 0.01
    view_decrease_floor: int = 10
    future_tolerance: timedelta = timedelta(minutes=10)
    methodology_changes: tuple[tuple[str, str, str], ...] = VIEW_METHODOLOGY_CHANGES

    def view_decrease_allowance(self, previous_views: int) -> int:
        """How far views may fall between snapshots before it is flagged."""
        return max(self.view_decrease_floor, int(previous_views * self.view_decrease_tolerance))


DEFAULT_RULES = QualityRules()


@dataclass(frozen=True, slots=True)
class QualityIssue:
    """One data-quality rule violation."""

    entity: str
    entity_id: str
    rule: Rule
    severity: Severity
    message: str
    record: Any = None

    @property
    def reason(self) -> str:
        """The quarantine reason: rule name, then the human explanation."""
        return f"{self.rule.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class QualityReport(Generic[T]):
    """``accepted`` are safe to load; every record not accepted has a reject issue."""

    entity: str
    checked: int
    accepted: tuple[T, ...]
    issues: tuple[QualityIssue, ...] = field(default=())

    @property
    def rejected(self) -> tuple[QualityIssue, ...]:
        """The violations that reject their records."""
        return tuple(i for i in self.issues if i.severity is Severity.REJECT)

    @property
    def warnings(self) -> tuple[QualityIssue, ...]:
        """The violations that only warn."""
        return tuple(i for i in self.issues if i.severity is Severity.WARN)

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected

    def count_by_rule(self) -> dict[str, int]:
        """The number of violations of each rule."""
        counts: dict[str, int] = {}
        for issue in self.issues:
            counts[issue.rule.value] = counts.get(issue.rule.value, 0) + 1
        return counts


class _Collector(Generic[T]):
    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.issues: list[QualityIssue] = []
        self.rejected_positions: set[int] = set()
        self.position = 0  # of the record being checked: equal records may appear twice

    def add(
        self, record: T, entity_id: str, rule: Rule, message: str, severity: Severity = Severity.REJECT
    ) -> None:
        self.issues.append(QualityIssue(self.entity, entity_id, rule, severity, message, record))
        if severity is Severity.REJECT:
            self.rejected_positions.add(self.position)

    def report(self, records: Sequence[T]) -> QualityReport[T]:
        accepted = tuple(r for i, r in enumerate(records) if i not in self.rejected_positions)
        return QualityReport(self.entity, len(records), accepted, tuple(self.issues))


def _aware(value: datetime | None) -> bool:
    return value is None or (value.tzinfo is not None and value.utcoffset() is not None)


def _negatives(values: Iterable[tuple[str, int | None]]) -> list[str]:
    return [name for name, value in values if value is not None and value < 0]


S = TypeVar("S", VideoSnapshot, ChannelSnapshot)


def _previous_if_sound(
    out: _Collector[S],
    snap: S,
    entity_id: str,
    counts: Sequence[tuple[str, int | None]],
    seen: set[str],
    previous: Mapping[str, S],
    now: datetime,
    rules: QualityRules,
) -> S | None:
    """The checks every snapshot kind shares. Returns the stored snapshot to compare ``snap`` with,
    or None when ``snap`` was rejected here or is the first one of its entity."""
    if entity_id in seen:
        out.add(
            snap,
            entity_id,
            Rule.DUPLICATE_IN_BATCH,
            f"two snapshots of one {out.entity.removesuffix('_snapshot')} in one batch",
        )
        return None
    seen.add(entity_id)
    negative = _negatives(counts)
    if negative:
        out.add(snap, entity_id, Rule.NEGATIVE_COUNT, f"negative {', '.join(negative)}")
        return None
    if not _aware(snap.observed_at):
        out.add(snap, entity_id, Rule.NAIVE_TIMESTAMP, "observed_at has no time zone")
        return None
    if snap.observed_at > now + rules.future_tolerance:
        out.add(snap, entity_id, Rule.OBSERVED_IN_FUTURE, f"observed_at {snap.observed_at.isoformat()} > now")
        return None
    before = previous.get(entity_id)
    if before is None:
        return None
    if snap.observed_at == before.observed_at:
        out.add(
            snap, entity_id, Rule.DUPLICATE_SNAPSHOT, "a snapshot with this observed_at is already stored"
        )
        return None
    if snap.observed_at < before.observed_at:
        out.add(
            snap,
            entity_id,
            Rule.OUT_OF_ORDER,
            f"observed_at {snap.observed_at.isoformat()} is older than the stored "
            f"{before.observed_at.isoformat()}",
        )
        return None
    return before


def methodology_change_between(
    earlier: datetime, later: datetime, video_format: VideoFormat | None, rules: QualityRules
) -> str | None:
    """The methodology change (``date: what``) that took effect in ``(earlier, later]``, if any."""
    for day, formats, what in rules.methodology_changes:
        effective = datetime.fromisoformat(day).replace(tzinfo=UTC)
        applies = formats == "all" or video_format is None or formats == video_format.value
        if applies and earlier < effective <= later:
            return f"{day}: {what}"
    return None


def check_channels(channels: Sequence[Channel], *, now: datetime) -> QualityReport[Channel]:
    """Check channels against the quality rules."""
    out: _Collector[Channel] = _Collector("channel")
    seen: set[str] = set()
    for out.position, channel in enumerate(channels):
        cid = channel.channel_id
        if cid in seen:
            out.add(channel, cid, Rule.DUPLICATE_IN_BATCH, "channel appears twice in one batch")
            continue
        seen.add(cid)
        negative = _negatives(
            [
                ("subscriber_count", channel.subscriber_count),
                ("view_count", channel.view_count),
                ("video_count", channel.video_count),
            ]
        )
        if negative:
            out.add(channel, cid, Rule.NEGATIVE_COUNT, f"negative {', '.join(negative)}")
        if channel.hidden_subscriber_count != (channel.subscriber_count is None):
            out.add(
                channel,
                cid,
                Rule.HIDDEN_FLAG_MISMATCH,
                f"hidden_subscriber_count={channel.hidden_subscriber_count} but subscriber_count="
                f"{channel.subscriber_count} (hidden counts are stored as NULL, never 0)",
            )
        if not _aware(channel.published_at):
            out.add(channel, cid, Rule.NAIVE_TIMESTAMP, "published_at has no time zone")
        elif channel.published_at is not None and channel.published_at > now + timedelta(days=1):
            out.add(channel, cid, Rule.PUBLISHED_IN_FUTURE, f"published_at {channel.published_at} > now")
    return out.report(channels)


def check_videos(
    videos: Sequence[Video], *, now: datetime, rules: QualityRules = DEFAULT_RULES
) -> QualityReport[Video]:
    """Check videos against the quality rules."""
    out: _Collector[Video] = _Collector("video")
    seen: set[str] = set()
    for out.position, video in enumerate(videos):
        vid = video.video_id
        if vid in seen:
            out.add(video, vid, Rule.DUPLICATE_IN_BATCH, "video appears twice in one batch")
            continue
        seen.add(vid)
        if not _aware(video.published_at):
            out.add(video, vid, Rule.NAIVE_TIMESTAMP, "published_at has no time zone")
        elif video.published_at > now + rules.future_tolerance:
            out.add(
                video,
                vid,
                Rule.PUBLISHED_IN_FUTURE,
                f"published_at {video.published_at.isoformat()} is after now {now.isoformat()}",
            )
        if video.duration_seconds is not None and video.duration_seconds < 0:
            out.add(video, vid, Rule.NEGATIVE_COUNT, f"negative duration {video.duration_seconds}s")
    return out.report(videos)


def check_video_snapshots(
    snapshots: Sequence[VideoSnapshot],
    *,
    previous: Mapping[str, VideoSnapshot],
    now: datetime,
    formats: Mapping[str, VideoFormat] | None = None,
    rules: QualityRules = DEFAULT_RULES,
) -> QualityReport[VideoSnapshot]:
    """Check new snapshots against each video's latest stored one (``previous``)."""
    out: _Collector[VideoSnapshot] = _Collector("video_snapshot")
    seen: set[str] = set()
    for out.position, snap in enumerate(snapshots):
        vid = snap.video_id
        counts = [
            ("view_count", snap.view_count),
            ("like_count", snap.like_count),
            ("comment_count", snap.comment_count),
        ]
        before = _previous_if_sound(out, snap, vid, counts, seen, previous, now, rules)
        if before is None:
            continue
        drop = before.view_count - snap.view_count
        if drop > 0:
            video_format = formats.get(vid) if formats else None
            change = methodology_change_between(before.observed_at, snap.observed_at, video_format, rules)
            allowance = rules.view_decrease_allowance(before.view_count)
            if change is not None:
                out.add(
                    snap,
                    vid,
                    Rule.VIEWS_DECREASED_ACROSS_METHODOLOGY,
                    f"views fell {before.view_count} -> {snap.view_count} across methodology change {change}",
                    Severity.WARN,
                )
            elif drop > allowance:
                out.add(
                    snap,
                    vid,
                    Rule.VIEWS_DECREASED,
                    f"views fell {before.view_count} -> {snap.view_count} (-{drop}), more than the "
                    f"allowance of {allowance} for spam-view audits",
                )
    return out.report(snapshots)


def check_channel_snapshots(
    snapshots: Sequence[ChannelSnapshot],
    *,
    previous: Mapping[str, ChannelSnapshot],
    now: datetime,
    rules: QualityRules = DEFAULT_RULES,
) -> QualityReport[ChannelSnapshot]:
    """Check channel snapshots against the quality rules."""
    out: _Collector[ChannelSnapshot] = _Collector("channel_snapshot")
    seen: set[str] = set()
    for out.position, snap in enumerate(snapshots):
        cid = snap.channel_id
        counts = [
            ("subscriber_count", snap.subscriber_count),
            ("view_count", snap.view_count),
            ("video_count", snap.video_count),
        ]
        before = _previous_if_sound(out, snap, cid, counts, seen, previous, now, rules)
        if before is None:
            continue
        if _fell(before.view_count, snap.view_count) or _fell(before.video_count, snap.video_count):
            # Deleting or privating uploads lowers both totals: stored, but worth a look.
            out.add(
                snap,
                cid,
                Rule.CHANNEL_TOTAL_DECREASED,
                f"views {before.view_count} -> {snap.view_count}, videos {before.video_count} -> "
                f"{snap.video_count} (uploads deleted or privated?)",
                Severity.WARN,
            )
    return out.report(snapshots)


def _fell(before: int | None, now: int | None) -> bool:
    """A count went down; an unknown (None) count on either side is no evidence of that."""
    return before is not None and now is not None and now < before


def check_comments(comments: Sequence[Comment], *, now: datetime) -> QualityReport[Comment]:
    """Check comments against the quality rules."""
    out: _Collector[Comment] = _Collector("comment")
    seen: set[str] = set()
    for out.position, comment in enumerate(comments):
        cid = comment.comment_id
        if cid in seen:
            out.add(comment, cid, Rule.DUPLICATE_IN_BATCH, "comment appears twice in one batch")
            continue
        seen.add(cid)
        negative = _negatives([("like_count", comment.like_count), ("reply_count", comment.reply_count)])
        if negative:
            out.add(comment, cid, Rule.NEGATIVE_COUNT, f"negative {', '.join(negative)}")
        if not _aware(comment.published_at):
            out.add(comment, cid, Rule.NAIVE_TIMESTAMP, "published_at has no time zone")
        elif comment.published_at > now + timedelta(days=1):
            out.add(comment, cid, Rule.PUBLISHED_IN_FUTURE, "published_at is in the future")
    return out.report(comments)
