-- PostgreSQL twin of ../0006_archive_daily_aggregates.sql.
-- Cold archive: each segment is one Parquet object of snapshot rows moved off the hot tables.
-- A segment is 'pending' while it is uploaded and verified, and becomes 'active' in the same
-- transaction that deletes its rows from the hot table; readers see active segments only, and a
-- pending one left by a killed archive is cleaned up (objects and row) by the next run.
CREATE TABLE archive_segments (
    segment_id TEXT COLLATE "C" PRIMARY KEY,
    table_name TEXT NOT NULL CHECK (table_name IN ('video_snapshots', 'channel_snapshots')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'active')),
    location TEXT NOT NULL,
    data_path TEXT NOT NULL,
    manifest_path TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    byte_count BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    min_observed_at TIMESTAMPTZ NOT NULL,
    max_observed_at TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL
);

-- Ranges of a segment brought back into the hot table: readers skip them in the segment.
CREATE TABLE archive_restores (
    segment_id TEXT COLLATE "C" NOT NULL,
    from_at TIMESTAMPTZ NOT NULL,
    to_at TIMESTAMPTZ NOT NULL,
    row_count BIGINT NOT NULL,
    restored_at TIMESTAMPTZ NOT NULL
);

-- Strict retention keeps these derived daily aggregates (tubescope's, not YouTube's figures)
-- after the raw statistics behind them are pruned.
CREATE TABLE channel_daily_aggregates (
    channel_id TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    videos_observed BIGINT NOT NULL,
    views_total BIGINT NOT NULL,
    views_median DOUBLE PRECISION,
    engagement_mean DOUBLE PRECISION,
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, day)
);
