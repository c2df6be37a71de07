"""The fleet KPI table in PostgreSQL SQL: the twin of :func:`~tubescope.analysis.kpi_sql.fleet_kpis_sql`.

Same definitions (see :mod:`tubescope.analysis.summary`), same columns, same parameters
(``$now`` and, for one channel, ``$channel_id``); a test runs both on the same data and compares.
What differs is only spelling: ``DISTINCT ON`` for DuckDB's ``arg_max_null`` (the latest row, a
NULL count kept), ``percentile_cont(0.5)`` for ``median``, the latest non-NULL value through an
ordered ``array_agg``, and quoted interval literals. The SQL is built by a pure function; the
caller owns the connection.
"""

from __future__ import annotations

from tubescope.analysis.kpi_sql import check_identifier, kpi_channel_filters, kpi_latest_sql


def fleet_kpis_postgres_sql(
    *,
    video_snapshots: str = "video_snapshots",
    channel_snapshots: str = "channel_snapshots",
    videos: str = "videos",
    one_channel: bool = False,
    latest_from_videos: bool = False,
    channels_in: str | None = None,
) -> str:
    """PostgreSQL SQL for the fleet KPI table.

    Parameters ``$now`` (and ``$channel_id`` when ``one_channel``); ``latest_from_videos`` and
    ``channels_in`` as in :func:`~tubescope.analysis.kpi_sql.fleet_kpis_sql`.
    """
    vs, cs, vt = (check_identifier(t) for t in (video_snapshots, channel_snapshots, videos))
    only, only_s, only_t = kpi_channel_filters(one_channel, channels_in)
    now = "CAST($now AS TIMESTAMPTZ)"

    def latest_known(column: str) -> str:
        return (
            f"(array_agg(CAST({column} AS FLOAT8) ORDER BY observed_at DESC)"
            f" FILTER (WHERE {column} IS NOT NULL))[1]"
        )

    # Table names are checked identifiers and values are bound parameters.
    return f"""
WITH latest AS ({kpi_latest_sql(vs, vt, only, latest_from_videos, postgres=True)}),
per_video AS (
    SELECT channel_id, CAST(v AS FLOAT8) AS views, l IS NULL AS hidden,
           CASE WHEN v > 0 AND l IS NOT NULL
                THEN (CAST(l AS FLOAT8) + coalesce(CAST(c AS FLOAT8), 0)) / v END AS rate
    FROM latest
),
video_kpis AS (
    SELECT channel_id, count(*) AS n_videos, count(rate) AS n_rated,
           count(*) FILTER (WHERE hidden) AS n_hidden_likes,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY views) AS median_views,
           avg(rate) AS engagement_mean,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY rate) AS engagement_median
    FROM per_video GROUP BY channel_id
),
channel_now AS (
    SELECT channel_id, max(observed_at) AS seen,
           {latest_known("subscriber_count")} AS subscriber_count,
           {latest_known("view_count")} AS total_views
    FROM {cs} WHERE observed_at <= {now} {only} GROUP BY channel_id
),
ends AS (
    -- Each channel's window ends at its own last observation: the one "as of" of its figures.
    SELECT channel_id, max(seen) AS end_at FROM (
        SELECT channel_id, seen FROM channel_now
        UNION ALL SELECT channel_id, max(seen) FROM latest GROUP BY channel_id
    ) AS seen_at GROUP BY channel_id
),
channel_start AS (
    SELECT s.channel_id,
           {latest_known("subscriber_count")} AS subs_start,
           {latest_known("view_count")} AS views_start
    FROM {cs} s JOIN ends e ON s.channel_id = e.channel_id
    WHERE s.observed_at <= e.end_at - INTERVAL '28 days' {only_s} GROUP BY s.channel_id
),
uploads AS (
    SELECT t.channel_id,
           count(*) FILTER (WHERE t.published_at > e.end_at - INTERVAL '90 days'
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
       CAST(coalesce(u.uploads_90d, 0) AS FLOAT8) / (CAST(90 AS FLOAT8) / 7) AS uploads_per_week_90d,
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
