-- PostgreSQL twin of ../0008_video_early_points.sql.
CREATE TABLE video_early_points (
    video_id TEXT COLLATE "C" NOT NULL,
    channel_id TEXT COLLATE "C" NOT NULL,
    slot_hours DOUBLE PRECISION NOT NULL CHECK (slot_hours > 0),
    observed_at TIMESTAMPTZ NOT NULL,
    age_hours DOUBLE PRECISION NOT NULL,
    view_count BIGINT NOT NULL,
    like_count BIGINT,
    comment_count BIGINT,
    run_id BIGINT NOT NULL,
    PRIMARY KEY (video_id, slot_hours)
);
