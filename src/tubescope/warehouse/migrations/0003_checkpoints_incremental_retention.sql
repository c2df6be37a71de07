-- Resumable runs (checkpoints), per-channel incremental state and the retention log.
CREATE TABLE collection_checkpoints (
    run_id BIGINT NOT NULL,
    channel_id VARCHAR NOT NULL,
    -- The playlistItems page token reached; NULL before the first page or after the last.
    page_token VARCHAR,
    pages_done INTEGER NOT NULL DEFAULT 0,
    channel_done BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, channel_id)
);

CREATE TABLE checkpoint_videos_done (
    run_id BIGINT NOT NULL,
    channel_id VARCHAR NOT NULL,
    video_id VARCHAR NOT NULL
);

CREATE TABLE channel_state (
    channel_id VARCHAR PRIMARY KEY,
    newest_video_id VARCHAR,
    newest_published_at TIMESTAMPTZ,
    last_full_crawl_at TIMESTAMPTZ,
    last_full_crawl_run_id BIGINT,
    last_run_id BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE prune_id_seq START 1;

-- Pruning deletes statistics but never lineage: each prune is recorded here.
CREATE TABLE retention_log (
    prune_id BIGINT PRIMARY KEY,
    pruned_at TIMESTAMPTZ NOT NULL,
    older_than_days INTEGER NOT NULL,
    cutoff TIMESTAMPTZ NOT NULL,
    video_snapshots_deleted BIGINT NOT NULL,
    channel_snapshots_deleted BIGINT NOT NULL
);

-- Each video's latest observed counts, kept beside its metadata so the pipeline's quality checks
-- and fleet-wide video frames read one row per video instead of aggregating every snapshot.
ALTER TABLE videos ADD COLUMN latest_observed_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN latest_view_count BIGINT;
ALTER TABLE videos ADD COLUMN latest_like_count BIGINT;
ALTER TABLE videos ADD COLUMN latest_comment_count BIGINT;
UPDATE videos
SET latest_observed_at = l.s.obs, latest_view_count = l.s.v,
    latest_like_count = l.s.l, latest_comment_count = l.s.c
FROM (
    SELECT video_id,
           arg_max(struct_pack(obs := observed_at, v := view_count, l := like_count, c := comment_count),
                   observed_at) AS s
    FROM video_snapshots GROUP BY video_id
) AS l
WHERE videos.video_id = l.video_id;
