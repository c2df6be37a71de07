-- Explicit hidden-count flags (backfilled from the NULLs v1 stored), the quarantine, and
-- tombstones so deleted or privated videos keep their history.
ALTER TABLE video_snapshots ADD COLUMN likes_hidden BOOLEAN;
ALTER TABLE video_snapshots ADD COLUMN comments_hidden BOOLEAN;
UPDATE video_snapshots SET likes_hidden = like_count IS NULL, comments_hidden = comment_count IS NULL;

ALTER TABLE channel_snapshots ADD COLUMN subscribers_hidden BOOLEAN;
UPDATE channel_snapshots SET subscribers_hidden = subscriber_count IS NULL;

ALTER TABLE videos ADD COLUMN is_deleted BOOLEAN DEFAULT false;
ALTER TABLE videos ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN deleted_reason VARCHAR;
ALTER TABLE videos ADD COLUMN deleted_run_id BIGINT;
UPDATE videos SET is_deleted = false WHERE is_deleted IS NULL;

-- One row per change of a video's visibility: the history behind videos.is_deleted.
CREATE TABLE video_status_events (
    video_id VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    event VARCHAR NOT NULL CHECK (event IN ('deleted', 'restored')),
    reason VARCHAR
);

CREATE SEQUENCE quarantine_id_seq START 1;

CREATE TABLE quarantine (
    quarantine_id BIGINT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    entity VARCHAR NOT NULL,
    entity_id VARCHAR,
    payload JSON NOT NULL,
    reason VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
