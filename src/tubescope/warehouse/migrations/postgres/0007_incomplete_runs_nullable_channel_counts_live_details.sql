-- PostgreSQL twin of ../0007_incomplete_runs_nullable_channel_counts_live_details.sql.
-- 1. 'incomplete' runs; v6 stored them as 'failed' with an error starting "incomplete: ".
ALTER TABLE collection_runs DROP CONSTRAINT collection_runs_status_check;
UPDATE collection_runs
SET status = 'incomplete',
    error = CASE WHEN starts_with(error, 'incomplete: incomplete: ') THEN substr(error, 13) ELSE error END
WHERE status = 'failed' AND starts_with(error, 'incomplete: ');
ALTER TABLE collection_runs ADD CONSTRAINT collection_runs_status_check CHECK (status IN (
    'running', 'completed', 'incomplete', 'failed', 'interrupted', 'quota_stopped', 'budget_stopped'));

-- 2. Missing channel counts are NULL, never 0.
ALTER TABLE channels ALTER COLUMN view_count DROP NOT NULL;
ALTER TABLE channels ALTER COLUMN video_count DROP NOT NULL;
ALTER TABLE channel_snapshots ALTER COLUMN view_count DROP NOT NULL;
ALTER TABLE channel_snapshots ALTER COLUMN video_count DROP NOT NULL;

-- 3. liveStreamingDetails of a broadcast.
ALTER TABLE videos ADD COLUMN live_scheduled_start_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_actual_start_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_actual_end_at TIMESTAMPTZ;
ALTER TABLE videos ADD COLUMN live_concurrent_viewers BIGINT;
