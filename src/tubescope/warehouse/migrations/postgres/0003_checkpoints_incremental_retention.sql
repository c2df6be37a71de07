-- PostgreSQL twin of ../0003_checkpoints_incremental_retention.sql.
CREATE TABLE collection_checkpoints (
    run_id BIGINT NOT NULL,
    channel_id TEXT COLLATE "C" NOT NULL,
    page_token TEXT,
    pages_done INTEGER NOT NULL DEFAULT 0,
    channel_done BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, channel_id)
);

CREATE TABLE checkpoint_videos_done (
    run_id BIGINT NOT NULL,
    channel_id TEXT COLLATE "C" NOT NULL,
    video_id TEXT COLLATE "C" NOT NULL
);
CREATE INDEX checkpoint_videos_done_run ON checkpoint_videos_done (run_id, channel_id, video_id);

CREATE TABLE channel_state (
    channel_id TEXT COLLATE "C" PRIMARY KEY,
    newest_video_id TEXT COLLATE "C",
    newest_published_at TIMESTAMPTZ,
    last_full_crawl_at TIMESTAMPTZ,
    last_full_crawl_run_id BIGINT,
    last_run_id BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE prune_id_seq START 1;

CREATE TABLE retention_log (
    prune_id BIGINT PRIMARY KEY,
    pruned_at TIMESTAMPTZ NOT NULL,
    older_than_days INTEGER NOT NULL,
    cutoff TIMESTAMPTZ NOT NULL,
    video_snapshots_deleted BIGINT NOT NULL,
    channel_snapshots_deleted BIGINT NOT NULL
);

ALTER TABLE videos ADD COLUMN latest_observed_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN latest_view_count BIGINT;
ALTER TABLE videos ADD COLUMN latest_like_count BIGINT;
ALTER TABLE videos ADD COLUMN latest_comment_count BIGINT;
UPDATE videos
SET latest_observed_at = l.observed_at, latest_view_count = l.view_count,
    latest_like_count = l.like_count, latest_comment_count = l.comment_count
FROM (
    SELECT DISTINCT ON (video_id) video_id, observed_at, view_count, like_count, comment_count
    FROM video_snapshots ORDER BY video_id, observed_at DESC
) AS l
WHERE videos.video_id = l.video_id;
