-- PostgreSQL twin of ../0002_hidden_flags_quarantine_tombstones.sql.
ALTER TABLE video_snapshots ADD COLUMN likes_hidden BOOLEAN;
ALTER TABLE video_snapshots ADD COLUMN comments_hidden BOOLEAN;
UPDATE video_snapshots SET likes_hidden = like_count IS NULL, comments_hidden = comment_count IS NULL;

ALTER TABLE channel_snapshots ADD COLUMN subscribers_hidden BOOLEAN;
UPDATE channel_snapshots SET subscribers_hidden = subscriber_count IS NULL;

ALTER TABLE videos ADD COLUMN is_deleted BOOLEAN DEFAULT false;
ALTER TABLE videos ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN deleted_reason TEXT;
ALTER TABLE videos ADD COLUMN deleted_run_id BIGINT;
UPDATE videos SET is_deleted = false WHERE is_deleted IS NULL;

CREATE TABLE video_status_events (
    video_id TEXT COLLATE "C" NOT NULL,
    run_id BIGINT NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    event TEXT COLLATE "C" NOT NULL CHECK (event IN ('deleted', 'restored')),
    reason TEXT
);

CREATE SEQUENCE quarantine_id_seq START 1;

CREATE TABLE quarantine (
    quarantine_id BIGINT PRIMARY KEY,
    run_id BIGINT NOT NULL,
    entity TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C",
    payload JSONB NOT NULL,
    reason TEXT NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX quarantine_run ON quarantine (run_id);
