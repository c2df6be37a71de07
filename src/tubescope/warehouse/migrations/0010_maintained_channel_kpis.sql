-- The fleet KPI table maintained when a run lands: one row per channel, the columns of
-- tubescope.analysis.summary.FLEET_KPI_COLUMNS, each window ending at the channel's last
-- observation. channel_daily_aggregates (0006) holds per-day figures for strict retention and
-- cannot give these (medians over each video's latest counts), so this is a table of its own.
CREATE TABLE channel_kpis (
    channel_id VARCHAR NOT NULL,
    as_of TIMESTAMPTZ,
    subscriber_count DOUBLE,
    total_views DOUBLE,
    n_videos BIGINT NOT NULL,
    n_rated BIGINT NOT NULL,
    n_hidden_likes BIGINT NOT NULL,
    median_views DOUBLE,
    views_per_subscriber DOUBLE,
    engagement_mean DOUBLE,
    engagement_median DOUBLE,
    uploads_90d BIGINT NOT NULL,
    uploads_per_week_90d DOUBLE,
    subscriber_gain_28d DOUBLE,
    subscriber_growth_28d DOUBLE,
    view_gain_28d DOUBLE,
    view_growth_28d DOUBLE,
    refreshed_at TIMESTAMPTZ NOT NULL
);

-- Channels whose rows in channel_kpis are out of date: every write of statistics or videos
-- marks its channels here in its own transaction, and the refresh clears them. '*' marks every
-- channel (a warehouse upgraded from an earlier schema has never been aggregated). No key on
-- either table: DuckDB refuses a delete and re-insert of one key inside a transaction.
CREATE TABLE channel_kpis_stale (
    channel_id VARCHAR NOT NULL
);
INSERT INTO channel_kpis_stale VALUES ('*');
