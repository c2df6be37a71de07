-- The fleet KPI table maintained when a run lands: one row per channel, the columns of
-- tubescope.analysis.summary.FLEET_KPI_COLUMNS, each window ending at the channel's last
-- observation. channel_daily_aggregates (0006) holds per-day figures for strict retention and
-- cannot give these (medians over each video's latest counts), so this is a table of its own.
CREATE TABLE channel_kpis (
    channel_id TEXT COLLATE "C" NOT NULL,
    as_of TIMESTAMPTZ,
    subscriber_count DOUBLE PRECISION,
    total_views DOUBLE PRECISION,
    n_videos BIGINT NOT NULL,
    n_rated BIGINT NOT NULL,
    n_hidden_likes BIGINT NOT NULL,
    median_views DOUBLE PRECISION,
    views_per_subscriber DOUBLE PRECISION,
    engagement_mean DOUBLE PRECISION,
    engagement_median DOUBLE PRECISION,
    uploads_90d BIGINT NOT NULL,
    uploads_per_week_90d DOUBLE PRECISION,
    subscriber_gain_28d DOUBLE PRECISION,
    subscriber_growth_28d DOUBLE PRECISION,
    view_gain_28d DOUBLE PRECISION,
    view_growth_28d DOUBLE PRECISION,
    refreshed_at TIMESTAMPTZ NOT NULL
);

-- Channels whose rows in channel_kpis are out of date: every write of statistics or videos
-- marks its channels here in its own transaction, and the refresh clears them. '*' marks every
-- channel (a warehouse upgraded from an earlier schema has never been aggregated). No key on
-- either table, as in the DuckDB twin (which refuses a delete and re-insert of one key inside a
-- transaction); the refresh deletes a channel's row before it inserts the new one.
CREATE TABLE channel_kpis_stale (
    channel_id TEXT COLLATE "C" NOT NULL
);
INSERT INTO channel_kpis_stale VALUES ('*');
