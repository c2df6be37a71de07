-- Core lineage and entity tables (PostgreSQL twin of ../0001_init.sql). Text is COLLATE "C" so
-- ids and titles sort byte-wise, as DuckDB sorts them, whatever the server's locale.
CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE collection_runs (
    run_id BIGINT PRIMARY KEY,
    source TEXT COLLATE "C" NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN (
        'running', 'completed', 'failed', 'interrupted', 'quota_stopped', 'budget_stopped')),
    channel_refs TEXT[] NOT NULL,
    key_fingerprints TEXT[] NOT NULL,
    quota_spent JSONB NOT NULL DEFAULT '{}',
    counters JSONB NOT NULL DEFAULT '{}',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE channels (
    channel_id TEXT COLLATE "C" PRIMARY KEY,
    title TEXT COLLATE "C" NOT NULL,
    handle TEXT COLLATE "C",
    description TEXT NOT NULL,
    published_at TIMESTAMPTZ,
    country TEXT COLLATE "C",
    default_language TEXT COLLATE "C",
    uploads_playlist_id TEXT COLLATE "C" NOT NULL,
    subscriber_count BIGINT,
    hidden_subscriber_count BOOLEAN NOT NULL,
    view_count BIGINT NOT NULL,
    video_count BIGINT NOT NULL,
    first_seen_run_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE channel_snapshots (
    channel_id TEXT COLLATE "C" NOT NULL,
    run_id BIGINT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    subscriber_count BIGINT,
    view_count BIGINT NOT NULL,
    video_count BIGINT NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
-- PostgreSQL has no zone maps: idempotency checks (run, channel) and frames read by channel.
CREATE INDEX channel_snapshots_run ON channel_snapshots (run_id, channel_id);
CREATE INDEX channel_snapshots_channel ON channel_snapshots (channel_id, observed_at);

CREATE TABLE videos (
    video_id TEXT COLLATE "C" PRIMARY KEY,
    channel_id TEXT COLLATE "C" NOT NULL,
    title TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    duration_seconds INTEGER,
    duration_raw TEXT COLLATE "C",
    video_format TEXT COLLATE "C" NOT NULL CHECK (video_format IN ('short', 'long', 'live')),
    tags TEXT[] NOT NULL,
    category_id TEXT COLLATE "C",
    default_language TEXT COLLATE "C",
    live_broadcast_content TEXT COLLATE "C" NOT NULL,
    privacy_status TEXT COLLATE "C",
    first_seen_run_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX videos_channel ON videos (channel_id);

CREATE TABLE video_snapshots (
    video_id TEXT COLLATE "C" NOT NULL,
    channel_id TEXT COLLATE "C" NOT NULL,
    run_id BIGINT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    view_count BIGINT NOT NULL,
    like_count BIGINT,
    comment_count BIGINT,
    source TEXT COLLATE "C" NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX video_snapshots_run ON video_snapshots (run_id, video_id);
CREATE INDEX video_snapshots_channel ON video_snapshots (channel_id, video_id, observed_at);

CREATE TABLE comments (
    comment_id TEXT COLLATE "C" PRIMARY KEY,
    video_id TEXT COLLATE "C" NOT NULL,
    parent_id TEXT COLLATE "C",
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    like_count BIGINT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ,
    reply_count BIGINT NOT NULL,
    extra JSONB NOT NULL DEFAULT '{}',
    run_id BIGINT NOT NULL,
    source TEXT COLLATE "C" NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
