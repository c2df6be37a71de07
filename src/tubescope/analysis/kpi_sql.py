"""The fleet KPI table's SQL (DuckDB), its columns and dtypes: light enough to import anywhere.

The collector refreshes the maintained fleet KPIs (:mod:`tubescope.pipeline.kpi_aggregates`)
when a run lands, so this module imports only pandas: not the analysis modules (and their scipy)
that :mod:`tubescope.analysis.summary`, which re-exports these names, needs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd

from tubescope.errors import ConfigError

FLEET_KPI_COLUMNS: tuple[str, ...] = (
    "channel_id",
    "as_of",
    "subscriber_count",
    "total_views",
    "n_videos",
    "n_rated",
    "n_hidden_likes",
    "median_views",
    "views_per_subscriber",
    "engagement_mean",
    "engagement_median",
    "uploads_90d",
    "uploads_per_week_90d",
    "subscriber_gain_28d",
    "subscriber_growth_28d",
    "view_gain_28d",
    "view_growth_28d",
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


NO_CAP = datetime(9999, 12, 31, tzinfo=UTC)
"""The cap used when no ``now`` is given: every observation counts."""


def check_identifier(name: str) -> str:
    """``name`` when it is a plain (optionally schema-qualified) table name; else ConfigError."""
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"not a plain table name: {name!r}")
    return name


def fleet_kpis_sql(
    *,
    video_snapshots: str = "video_snapshots",
    channel_snapshots: str = "channel_snapshots",
    videos: str = "videos",
    one_channel: bool = False,
    latest_from_videos: bool = False,
    channels_in: str | None = None,
) -> str:
    """DuckDB SQL for the fleet KPI table; parameters ``$now`` (and ``$channel_id`` when ``one_channel``).

    ``latest_from_videos`` reads each video's latest counts from the ``videos`` table's
    ``latest_*`` columns (kept by every snapshot write) instead of scanning ``video_snapshots``:
    the same rows when ``$now`` is at or after every observation. ``channels_in`` names a table
    whose ``channel_id`` column restricts the result to those channels.
    """
    vs, cs, vt = (check_identifier(t) for t in (video_snapshots, channel_snapshots, videos))
    only, only_s, only_t = kpi_channel_filters(one_channel, channels_in)
    # Table names are checked identifiers and values are bound parameters, so nothing user-typed
    # is spliced into the text.
    return f"""
WITH latest AS ({kpi_latest_sql(vs, vt, only, latest_from_videos, postgres=False)}),
per_video AS (
    SELECT channel_id, CAST(v AS DOUBLE) AS views, l IS NULL AS hidden,
           CASE WHEN v > 0 AND l IS NOT NULL
                THEN (CAST(l AS DOUBLE) + coalesce(CAST(c AS DOUBLE), 0)) / v END AS rate
    FROM latest
),
video_kpis AS (
    SELECT channel_id, count(*) AS n_videos, count(rate) AS n_rated,
           count(*) FILTER (WHERE hidden) AS n_hidden_likes,
           median(views) AS median_views, avg(rate) AS engagement_mean, median(rate) AS engagement_median
    FROM per_video GROUP BY channel_id
),
channel_now AS (
    SELECT channel_id, max(observed_at) AS seen,
           arg_max(CAST(subscriber_count AS DOUBLE), observed_at)
               FILTER (WHERE subscriber_count IS NOT NULL) AS subscriber_count,
           arg_max(CAST(view_count AS DOUBLE), observed_at)
               FILTER (WHERE view_count IS NOT NULL) AS total_views
    FROM {cs} WHERE observed_at <= CAST($now AS TIMESTAMPTZ) {only} GROUP BY channel_id
),
ends AS (
    -- Each channel's window ends at its own last observation: the one "as of" of its figures.
    SELECT channel_id, max(seen) AS end_at FROM (
        SELECT channel_id, seen FROM channel_now
        UNION ALL SELECT channel_id, max(seen) FROM latest GROUP BY channel_id
    ) GROUP BY channel_id
),
channel_start AS (
    SELECT s.channel_id,
           arg_max(CAST(s.subscriber_count AS DOUBLE), s.observed_at)
               FILTER (WHERE s.subscriber_count IS NOT NULL) AS subs_start,
           arg_max(CAST(s.view_count AS DOUBLE), s.observed_at)
               FILTER (WHERE s.view_count IS NOT NULL) AS views_start
    FROM {cs} s JOIN ends e ON s.channel_id = e.channel_id
    WHERE s.observed_at <= e.end_at - INTERVAL 28 DAY {only_s} GROUP BY s.channel_id
),
uploads AS (
    SELECT t.channel_id,
           count(*) FILTER (WHERE t.published_at > e.end_at - INTERVAL 90 DAY
                              AND t.published_at <= e.end_at) AS uploads_90d
    FROM {vt} t LEFT JOIN ends e ON t.channel_id = e.channel_id WHERE TRUE {only_t} GROUP BY t.channel_id
),
ids AS (
    SELECT channel_id FROM channel_now UNION SELECT channel_id FROM video_kpis
    UNION SELECT channel_id FROM uploads
)
SELECT ids.channel_id, e.end_at AS as_of, c.subscriber_count, c.total_views,
       coalesce(v.n_videos, 0) AS n_videos, coalesce(v.n_rated, 0) AS n_rated,
       coalesce(v.n_hidden_likes, 0) AS n_hidden_likes, v.median_views,
       v.median_views / nullif(c.subscriber_count, 0) AS views_per_subscriber,
       v.engagement_mean, v.engagement_median,
       coalesce(u.uploads_90d, 0) AS uploads_90d,
       coalesce(u.uploads_90d, 0) / (90.0 / 7) AS uploads_per_week_90d,
       c.subscriber_count - s.subs_start AS subscriber_gain_28d,
       (c.subscriber_count - s.subs_start) / nullif(s.subs_start, 0) AS subscriber_growth_28d,
       c.total_views - s.views_start AS view_gain_28d,
       (c.total_views - s.views_start) / nullif(s.views_start, 0) AS view_growth_28d
FROM ids
LEFT JOIN ends e USING (channel_id)
LEFT JOIN channel_now c USING (channel_id)
LEFT JOIN channel_start s USING (channel_id)
LEFT JOIN video_kpis v USING (channel_id)
LEFT JOIN uploads u USING (channel_id)
ORDER BY ids.channel_id
"""  # noqa: S608


def kpi_channel_filters(one_channel: bool, channels_in: str | None) -> tuple[str, str, str]:
    """The ``AND ...`` restrictions of the fleet KPI SQL: unqualified, on ``s.`` and on ``t.``."""
    if one_channel:
        test = "= $channel_id"
    elif channels_in is not None:
        test = f"IN (SELECT channel_id FROM {check_identifier(channels_in)})"  # noqa: S608 -- checked name
    else:
        return ("", "", "")
    return (f"AND channel_id {test}", f"AND s.channel_id {test}", f"AND t.channel_id {test}")


def kpi_latest_sql(vs: str, vt: str, only: str, from_videos: bool, *, postgres: bool) -> str:
    """The body of the ``latest`` CTE: one row per video, its newest counts up to ``$now``."""
    # Table names are checked identifiers; ``$now`` is a bound parameter.
    if from_videos:
        return f"""
    SELECT video_id, channel_id, latest_view_count AS v, latest_like_count AS l,
           latest_comment_count AS c, latest_observed_at AS seen
    FROM {vt}
    WHERE latest_observed_at IS NOT NULL AND latest_observed_at <= CAST($now AS TIMESTAMPTZ) {only}
"""  # noqa: S608
    if postgres:
        return f"""
    SELECT DISTINCT ON (video_id) video_id, channel_id,
           view_count AS v, like_count AS l, comment_count AS c, observed_at AS seen
    FROM {vs}
    WHERE observed_at <= CAST($now AS TIMESTAMPTZ) {only}
    ORDER BY video_id, observed_at DESC
"""  # noqa: S608
    # One key (a video belongs to one channel) and arg_max_null, which keeps a NULL (hidden)
    # latest count instead of skipping back to an older visible one.
    return f"""
    SELECT video_id, any_value(channel_id) AS channel_id,
           arg_max_null(view_count, observed_at) AS v, arg_max_null(like_count, observed_at) AS l,
           arg_max_null(comment_count, observed_at) AS c, max(observed_at) AS seen
    FROM {vs}
    WHERE observed_at <= CAST($now AS TIMESTAMPTZ) {only}
    GROUP BY video_id
"""  # noqa: S608


def kpi_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A fetched fleet KPI result in the table's dtypes: UTC ``as_of``, int64 counts, float KPIs
    (the same from either backend's SQL)."""
    # One astype over every column (not one per column): the maintained fleet table is read
    # through here on every fleet query, where per-column casts were most of its cost.
    typed = frame.astype(_KPI_DTYPES)
    if "as_of" in typed.columns:
        typed["as_of"] = pd.to_datetime(typed["as_of"], utc=True).astype("datetime64[ns, UTC]")
    return typed[list(FLEET_KPI_COLUMNS)]


_KPI_COUNTS = ("n_videos", "n_rated", "n_hidden_likes", "uploads_90d")
_KPI_DTYPES = {c: "int64" if c in _KPI_COUNTS else "float64" for c in FLEET_KPI_COLUMNS[2:]}
