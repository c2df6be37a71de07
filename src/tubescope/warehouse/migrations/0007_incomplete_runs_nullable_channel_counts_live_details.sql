-- 1. A run that walked every channel but could not fetch some batches or pages (its gaps) ends
--    'incomplete'. Until v7 the CHECK refused that state, so such runs were stored as 'failed' with
--    an error starting "incomplete: "; they are converted here. DuckDB cannot alter a CHECK, so the
--    table is rebuilt with the same columns.
CREATE TABLE collection_runs_v7 (
    run_id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL CHECK (status IN (
        'running', 'completed', 'incomplete', 'failed', 'interrupted', 'quota_stopped',
        'budget_stopped')),
    channel_refs VARCHAR[] NOT NULL,
    key_fingerprints VARCHAR[] NOT NULL,
    quota_spent JSON NOT NULL DEFAULT '{}',
    counters JSON NOT NULL DEFAULT '{}',
    error VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 1
);
INSERT INTO collection_runs_v7
SELECT run_id, source, started_at, finished_at,
       CASE WHEN status = 'failed' AND starts_with(error, 'incomplete: ') THEN 'incomplete'
            ELSE status END,
       channel_refs, key_fingerprints, quota_spent, counters,
       -- v6 wrote "incomplete: " before a message that already began with it: keep one.
       CASE WHEN status = 'failed' AND starts_with(error, 'incomplete: incomplete: ')
            THEN substr(error, 13) ELSE error END,
       attempts
FROM collection_runs;
DROP TABLE collection_runs;
ALTER TABLE collection_runs_v7 RENAME TO collection_runs;

-- 2. A channel whose statistics lack a count is stored with NULL there: unknown, never 0.
ALTER TABLE channels ALTER COLUMN view_count DROP NOT NULL;
ALTER TABLE channels ALTER COLUMN video_count DROP NOT NULL;
ALTER TABLE channel_snapshots ALTER COLUMN view_count DROP NOT NULL;
ALTER TABLE channel_snapshots ALTER COLUMN video_count DROP NOT NULL;

-- 3. liveStreamingDetails of a broadcast (NULL for other videos, and for any time not sent).
--    live_concurrent_viewers is the audience when the video was last fetched while live.
ALTER TABLE videos ADD COLUMN live_scheduled_start_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_actual_start_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_actual_end_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_concurrent_viewers BIGINT;
