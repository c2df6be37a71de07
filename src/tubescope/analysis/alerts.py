"""Alert rules over what the warehouse holds: pure functions, the clock a parameter.

:func:`evaluate` turns rules and :class:`AlertInputs` into :class:`Finding` objects, each saying
what happened, with its number. Whether a finding becomes an alert (once, outside its rule's
cooldown) and how it is delivered is decided at the edges (``watch/`` and ``jobs/``).

Rule kinds and what their ``threshold`` means:

- ``breakout``: the same-age outlier score (:mod:`tubescope.analysis.same_age`: views at age
  *a* over the median of the channel's same-format videos at *a*) reaches ``threshold`` at one of
  ``ages_hours`` (1 h, 24 h, 72 h). A score needs ``min_peers`` other same-format videos observed
  at that age, so a channel's first watched days build the baseline. One alert per video.
- ``views_per_hour``: a video gained at least ``threshold`` views an hour between its last two
  snapshots.
- ``subscriber_drop``: the channel's subscribers fell by at least ``threshold`` (a fraction:
  0.02 = 2%) from their highest in the preceding week.
- ``upload_gap``: the time since the last upload is at least ``threshold`` times the channel's
  median gap between uploads (:func:`tubescope.analysis.cadence.analyze_cadence`). One alert per gap.
- ``quota``: an API key has spent at least ``threshold`` (0.8 = 80%) of a daily quota bucket.
  One alert per key, bucket and quota day.
- ``collection_failed``: a collection run ended failed or stopped for quota or budget. One per run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, get_args

import numpy as np
import pandas as pd

from tubescope.analysis.cadence import analyze_cadence
from tubescope.analysis.features import require_aware
from tubescope.analysis.same_age import analyze_same_age
from tubescope.errors import ConfigError

RuleKind = Literal[
    "breakout", "views_per_hour", "subscriber_drop", "upload_gap", "quota", "collection_failed"
]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "breakout": 5.0,
    "subscriber_drop": 0.02,
    "upload_gap": 1.5,
    "quota": 0.8,
    "collection_failed": 0.0,
}
"""Thresholds used when a rule names none (``views_per_hour`` always needs one)."""

BREAKOUT_LOOKBACK = timedelta(days=7)
"""Videos older than this are not checked for a breakout (their early ages passed long ago)."""
SUBSCRIBER_WINDOW = timedelta(days=7)
RECENT = timedelta(days=1)
"""Snapshots and runs older than this before ``now`` raise no alert (stale news)."""
FAILED_STATES = ("failed", "incomplete", "quota_stopped", "budget_stopped")
"""Run states a ``collection_failed`` rule reports: ``incomplete`` left gaps (batches not fetched)."""


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One configured rule (from ``tubescope.toml`` or REST)."""

    name: str
    kind: RuleKind
    threshold: float
    cooldown: timedelta = timedelta(hours=24)
    """After an alert, the same rule stays quiet this long about the same subject."""
    channel_ids: tuple[str, ...] = ()
    """The channels it watches; empty: every channel evaluated."""
    ages_hours: tuple[float, ...] = (1.0, 24.0, 72.0)
    min_peers: int = 3

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ConfigError(f"unknown alert rule kind {self.kind!r}: use one of {', '.join(RULE_KINDS)}")
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise ConfigError(f"alert rule {self.name!r}: threshold must be a number >= 0")
        if self.kind in ("subscriber_drop", "quota") and not 0 < self.threshold <= 1:
            raise ConfigError(f"alert rule {self.name!r}: a {self.kind} threshold is a fraction in (0, 1]")
        if self.cooldown < timedelta(0):
            raise ConfigError(f"alert rule {self.name!r}: cooldown must not be negative")
        if not self.ages_hours or any(not 0 < a <= 24 * 28 for a in self.ages_hours):
            raise ConfigError(f"alert rule {self.name!r}: ages must lie between 0 and 672 hours")
        if self.min_peers < 1:
            raise ConfigError(f"alert rule {self.name!r}: min_peers must be at least 1")

    def applies_to(self, channel_id: str | None) -> bool:
        """Whether the rule watches ``channel_id`` (rules about no channel apply everywhere)."""
        return not self.channel_ids or channel_id is None or channel_id in self.channel_ids


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A finished collection run, as the ``collection_failed`` rule reads it."""

    run_id: int
    status: str
    finished_at: datetime
    channel_refs: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class AlertInputs:
    """What the rules read: the warehouse's frames (``domain.frames`` columns), finished runs and
    the quota left per (key fingerprint, bucket). Anything missing simply raises nothing."""

    videos: pd.DataFrame | None = None
    video_snapshots: pd.DataFrame | None = None
    channels: pd.DataFrame | None = None
    channel_snapshots: pd.DataFrame | None = None
    early_points: pd.DataFrame | None = None
    """Dense samples of young videos (``video_early_points``): observed views at 1 h, 24 h, 72 h
    that the same-age score uses where they exist, as every other surface does."""
    runs: tuple[RunRecord, ...] = ()
    quota_left: Mapping[tuple[str, str], int] | None = None
    quota_daily_units: int = 10_000
    quota_day: str = ""
    """The quota day (US Pacific date) the ``quota_left`` figures belong to."""
    channel_titles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a rule found; becomes an alert unless it was already sent or is in cooldown."""

    rule: str
    kind: RuleKind
    key: str
    """The event's identity: one alert per key, ever."""
    subject: str
    """What the cooldown is kept for (with the rule): a video, a channel, a key and bucket."""
    channel_id: str | None
    video_id: str | None
    value: float
    threshold: float
    observed_at: datetime
    summary: str
    """What happened, with the number (no link; see :func:`message`)."""


def channel_link(public_url: str | None, channel_id: str) -> str:
    """The channel's dashboard page: absolute under ``public_url`` when it is set, else a path."""
    return f"{(public_url or '').rstrip('/')}/channels/{channel_id}"


def message(finding: Finding, public_url: str | None) -> str:
    """The alert's text: what happened, with the number, and a link to the channel page."""
    if finding.channel_id is None:
        return finding.summary
    return f"{finding.summary} {channel_link(public_url, finding.channel_id)}"


def _age_label(hours: float) -> str:
    return f"{hours:g}h"


def _views(count: float) -> str:
    return f"{count:,.0f}"


def _title_map(videos: pd.DataFrame) -> dict[str, str]:
    if "title" not in videos.columns:
        return {}
    return dict(zip(videos["video_id"].astype(str), videos["title"].astype(str), strict=True))


def _channel_name(inputs: AlertInputs, channel_id: str) -> str:
    return inputs.channel_titles.get(channel_id) or channel_id


def breakout(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Videos of the last week whose same-age outlier score reached the threshold at a rule age;
    the earliest such age per video."""
    videos, snapshots = inputs.videos, inputs.video_snapshots
    if videos is None or snapshots is None or videos.empty:
        return []
    clock = pd.Timestamp(require_aware(now))
    ages = tuple((_age_label(h), float(h)) for h in sorted(rule.ages_hours))
    published = pd.to_datetime(videos["published_at"], utc=True)
    recent = (published > clock - pd.Timedelta(BREAKOUT_LOOKBACK)) & (published <= clock)
    titles = _title_map(videos)
    found: list[Finding] = []
    for channel_id in sorted(set(videos.loc[recent.to_numpy(), "channel_id"].astype(str))):
        if not rule.applies_to(channel_id):
            continue
        mine = videos[videos["channel_id"].astype(str) == channel_id]
        snaps = snapshots[snapshots["video_id"].isin(mine["video_id"])]
        early = inputs.early_points
        if early is not None and not early.empty:
            early = early[early["video_id"].isin(mine["video_id"])]
        result = analyze_same_age(mine, snaps, now, ages, early_points=early)
        peers = {(m.video_format, m.age_label): m for m in result.medians}
        fresh = set(mine.loc[recent[mine.index].to_numpy(), "video_id"].astype(str))
        order = {label: i for i, (label, _) in enumerate(ages)}
        crossed: dict[str, tuple[int, Finding]] = {}
        for row in result.rows:
            median = peers[(row.video_format, row.age_label)]
            if (
                row.video_id not in fresh
                or row.outlier_score is None
                or row.outlier_score < rule.threshold
                or median.n_videos < rule.min_peers + 1
                or median.median_views is None
            ):
                continue
            rank = order[row.age_label]
            if row.video_id in crossed and crossed[row.video_id][0] <= rank:
                continue
            title = titles.get(row.video_id, row.video_id)
            summary = (
                f'Breakout on {_channel_name(inputs, channel_id)}: "{title}" had {_views(row.views)} views '
                f"at {row.age_label}, {row.outlier_score:.1f}x the channel's median {row.video_format} "
                f"video at that age ({_views(median.median_views)}; alert at {rule.threshold:g}x)."
            )
            crossed[row.video_id] = (
                rank,
                Finding(
                    rule=rule.name,
                    kind="breakout",
                    key=f"{rule.name}:{row.video_id}",
                    subject=row.video_id,
                    channel_id=channel_id,
                    video_id=row.video_id,
                    value=round(row.outlier_score, 4),
                    threshold=rule.threshold,
                    observed_at=now,
                    summary=summary,
                ),
            )
        found += [finding for _, finding in crossed.values()]
    return found


def _last_two(snapshots: pd.DataFrame, key: str, value: str, now: datetime) -> pd.DataFrame:
    """Per ``key``: the newest observation at or before ``now`` and the one before it (columns
    ``key, t1, v1, t0, v0``), dropping rows whose value is missing."""
    clock = pd.Timestamp(require_aware(now))
    frame = snapshots[[key, "observed_at", value]].copy()
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    frame[value] = pd.to_numeric(frame[value], errors="coerce").astype(float)
    frame = frame[(frame["observed_at"] <= clock) & frame[value].notna()]
    frame = frame.sort_values([key, "observed_at"])
    last = frame.groupby(key, sort=True).tail(2)
    newest = last.groupby(key).nth(-1).set_index(key)
    before = last.groupby(key).nth(-2).set_index(key)
    joined = newest.merge(before, how="inner", left_index=True, right_index=True, suffixes=("_1", "_0"))
    return pd.DataFrame(
        {
            key: joined.index.astype(str),
            "t1": joined["observed_at_1"].to_numpy(),
            "v1": joined[f"{value}_1"].to_numpy(dtype=float),
            "t0": joined["observed_at_0"].to_numpy(),
            "v0": joined[f"{value}_0"].to_numpy(dtype=float),
        }
    )


def views_per_hour(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Videos that gained at least ``threshold`` views an hour between their last two snapshots
    (the newest within a day of ``now``)."""
    videos, snapshots = inputs.videos, inputs.video_snapshots
    if videos is None or snapshots is None or snapshots.empty:
        return []
    owner = dict(zip(videos["video_id"].astype(str), videos["channel_id"].astype(str), strict=True))
    titles = _title_map(videos)
    pairs = _last_two(snapshots, "video_id", "view_count", now)
    if pairs.empty:
        return []
    elapsed = pd.to_datetime(pairs["t1"], utc=True) - pd.to_datetime(pairs["t0"], utc=True)
    hours = elapsed.dt.total_seconds().to_numpy() / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(hours > 0, (pairs["v1"].to_numpy() - pairs["v0"].to_numpy()) / hours, np.nan)
    fresh = pd.to_datetime(pairs["t1"], utc=True) >= pd.Timestamp(now) - pd.Timedelta(RECENT)
    found = []
    for i in np.flatnonzero((rate >= rule.threshold) & fresh.to_numpy()):
        video_id = str(pairs["video_id"].iloc[i])
        channel_id = owner.get(video_id)
        if channel_id is None or not rule.applies_to(channel_id):
            continue
        observed = pd.Timestamp(pairs["t1"].iloc[i]).to_pydatetime()
        found.append(
            Finding(
                rule=rule.name,
                kind="views_per_hour",
                key=f"{rule.name}:{video_id}:{observed.isoformat()}",
                subject=video_id,
                channel_id=channel_id,
                video_id=video_id,
                value=round(float(rate[i]), 2),
                threshold=rule.threshold,
                observed_at=observed,
                summary=(
                    f'"{titles.get(video_id, video_id)}" on {_channel_name(inputs, channel_id)} is gaining '
                    f"{_views(rate[i])} views an hour (alert at {_views(rule.threshold)})."
                ),
            )
        )
    return found


def subscriber_drop(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Channels whose newest subscriber count is ``threshold`` (a fraction) or more below their
    highest count in the week before it."""
    snapshots = inputs.channel_snapshots
    if snapshots is None or snapshots.empty:
        return []
    clock = pd.Timestamp(require_aware(now))
    frame = snapshots[["channel_id", "observed_at", "subscriber_count"]].copy()
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    frame["subscribers"] = pd.to_numeric(frame["subscriber_count"], errors="coerce").astype(float)
    frame = frame[(frame["observed_at"] <= clock) & frame["subscribers"].notna()]
    found = []
    for channel_id, rows in frame.groupby(frame["channel_id"].astype(str), sort=True):
        if not rule.applies_to(str(channel_id)):
            continue
        rows = rows.sort_values("observed_at")
        newest_at = rows["observed_at"].iloc[-1]
        if newest_at < clock - pd.Timedelta(RECENT):
            continue
        window = rows[rows["observed_at"] >= newest_at - pd.Timedelta(SUBSCRIBER_WINDOW)]
        peak, latest = float(window["subscribers"].max()), float(rows["subscribers"].iloc[-1])
        if peak <= 0 or (peak - latest) / peak < rule.threshold or latest >= peak:
            continue
        drop = (peak - latest) / peak
        observed = newest_at.to_pydatetime()
        found.append(
            Finding(
                rule=rule.name,
                kind="subscriber_drop",
                key=f"{rule.name}:{channel_id}:{observed.isoformat()}",
                subject=str(channel_id),
                channel_id=str(channel_id),
                video_id=None,
                value=round(drop, 6),
                threshold=rule.threshold,
                observed_at=observed,
                summary=(
                    f"{_channel_name(inputs, str(channel_id))} lost {_views(peak - latest)} subscribers "
                    f"({drop:.1%}) in a week: {_views(peak)} to {_views(latest)} "
                    f"(alert at {rule.threshold:.1%})."
                ),
            )
        )
    return found


def upload_gap(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Channels silent for ``threshold`` times their median gap between uploads or longer (at
    least four uploads to know the cadence); one finding per gap."""
    videos = inputs.videos
    if videos is None or videos.empty:
        return []
    found = []
    for channel_id, mine in videos.groupby(videos["channel_id"].astype(str), sort=True):
        if not rule.applies_to(str(channel_id)):
            continue
        cadence = analyze_cadence(mine, now)
        median = cadence.stats("all").median_gap_hours
        since = cadence.hours_since_last_upload
        if cadence.n_uploads < 4 or not median or since is None or since / median < rule.threshold:
            continue
        ratio = since / median
        found.append(
            Finding(
                rule=rule.name,
                kind="upload_gap",
                key=f"{rule.name}:{channel_id}:{cadence.last_upload}",
                subject=str(channel_id),
                channel_id=str(channel_id),
                video_id=None,
                value=round(ratio, 4),
                threshold=rule.threshold,
                observed_at=now,
                summary=(
                    f"{_channel_name(inputs, str(channel_id))} has not uploaded for {since / 24:.1f} days, "
                    f"{ratio:.1f}x its usual gap of {median / 24:.1f} days (alert at {rule.threshold:g}x)."
                ),
            )
        )
    return found


def quota(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """API keys that spent ``threshold`` (a fraction) or more of a daily quota bucket."""
    if not inputs.quota_left or inputs.quota_daily_units <= 0:
        return []
    found = []
    for (fingerprint, bucket), left in sorted(inputs.quota_left.items()):
        spent = inputs.quota_daily_units - max(0, left)
        used = spent / inputs.quota_daily_units
        if used < rule.threshold:
            continue
        found.append(
            Finding(
                rule=rule.name,
                kind="quota",
                key=f"{rule.name}:{fingerprint}:{bucket}:{inputs.quota_day}",
                subject=f"{fingerprint}:{bucket}",
                channel_id=None,
                video_id=None,
                value=round(used, 6),
                threshold=rule.threshold,
                observed_at=now,
                summary=(
                    f"API key {fingerprint} has spent {used:.0%} of today's {bucket} quota "
                    f"({spent:,} of {inputs.quota_daily_units:,} units; alert at {rule.threshold:.0%})."
                ),
            )
        )
    return found


def collection_failed(rule: AlertRule, inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Collection runs that ended failed, incomplete (gaps) or stopped for quota or budget within a
    day of ``now``."""
    clock = require_aware(now)
    found = []
    for run in inputs.runs:
        if run.status not in FAILED_STATES or not clock - RECENT <= run.finished_at <= clock:
            continue
        channels = [ref for ref in run.channel_refs if ref.startswith("UC")]
        channel_id = channels[0] if len(run.channel_refs) == 1 and channels else None
        if channel_id is not None and not rule.applies_to(channel_id):
            continue
        what = ", ".join(run.channel_refs[:3]) + (" …" if len(run.channel_refs) > 3 else "")
        reason = f": {run.error}" if run.error else ""
        found.append(
            Finding(
                rule=rule.name,
                kind="collection_failed",
                key=f"{rule.name}:run:{run.run_id}",
                subject=channel_id or "collections",
                channel_id=channel_id,
                video_id=None,
                value=float(run.run_id),
                threshold=rule.threshold,
                observed_at=run.finished_at,
                summary=(
                    f"Collection run {run.run_id} of {len(run.channel_refs)} channel(s) ({what}) "
                    f"ended {run.status.replace('_', ' ')}{reason}."
                ),
            )
        )
    return found


_EVALUATORS = {
    "breakout": breakout,
    "views_per_hour": views_per_hour,
    "subscriber_drop": subscriber_drop,
    "upload_gap": upload_gap,
    "quota": quota,
    "collection_failed": collection_failed,
}


def evaluate(rules: Sequence[AlertRule], inputs: AlertInputs, now: datetime) -> list[Finding]:
    """Every finding of ``rules`` over ``inputs`` as of ``now``, rule by rule."""
    require_aware(now)
    found: list[Finding] = []
    for rule in rules:
        found += _EVALUATORS[rule.kind](rule, inputs, now)
    return found
