-- Watch mode's dense sampling: a young video's views at fixed ages (1 h, 2 h, ... 24 h, 30 h, ...
-- 72 h by default), each taken once by the scheduler's hourly pass. slot_hours is the age the
-- sample stands for; observed_at is when it was really taken (at or less than an hour after the
-- slot), so the true early curve is stored, not interpolated from daily snapshots.
CREATE TABLE video_early_points (
    video_id VARCHAR NOT NULL,
    channel_id VARCHAR NOT NULL,
    slot_hours DOUBLE NOT NULL CHECK (slot_hours > 0),
    observed_at TIMESTAMPTZ NOT NULL,
    age_hours DOUBLE NOT NULL,
    view_count BIGINT NOT NULL,
    like_count BIGINT,
    comment_count BIGINT,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (video_id, slot_hours)
);
