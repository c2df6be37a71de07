-- Core lineage and entity tables. Every stored value carries the run that produced it.
CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE collection_runs (
    run_id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL CHECK (status IN (
        'running', 'completed', 'failed', 'interrupted', 'quota_stopped', 'budget_stopped')),
    channel_refs VARCHAR[] NOT NULL,
    key_fingerprints VARCHAR[] NOT NULL,
    quota_spent JSON NOT NULL DEFAULT '{}',
    counters JSON NOT NULL DEFAULT '{}',
    error VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE channels (
    channel_id VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    handle VARCHAR,
    description VARCHAR NOT NULL,
    published_at TIMESTAMPTZ,
    country VARCHAR,
    default_language VARCHAR,
    uploads_playlist_id VARCHAR NOT NULL,
    -- NULL when hidden: never 0.
    subscriber_count BIGINT,
    hidden_subscriber_count BOOLEAN NOT NULL,
    view_count BIGINT NOT NULL,
    video_count BIGINT NOT NULL,
    first_seen_run_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

-- Snapshot tables carry no index on purpose: an ART index over tens of millions of rows costs
-- memory on every insert. Idempotency is an anti-join restricted to one run_id, which the
-- per-row-group min/max statistics make cheap because runs are written one after another.
CREATE TABLE channel_snapshots (
    channel_id VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    subscriber_count BIGINT,
    view_count BIGINT NOT NULL,
    video_count BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE videos (
    video_id VARCHAR PRIMARY KEY,
    channel_id VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    duration_seconds INTEGER,
    duration_raw VARCHAR,
    video_format VARCHAR NOT NULL CHECK (video_format IN ('short', 'long', 'live')),
    tags VARCHAR[] NOT NULL,
    category_id VARCHAR,
    default_language VARCHAR,
    live_broadcast_content VARCHAR NOT NULL,
    privacy_status VARCHAR,
    first_seen_run_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE video_snapshots (
    video_id VARCHAR NOT NULL,
    channel_id VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    view_count BIGINT NOT NULL,
    -- NULL when hidden or disabled: never 0.
    like_count BIGINT,
    comment_count BIGINT,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE comments (
    comment_id VARCHAR PRIMARY KEY,
    video_id VARCHAR NOT NULL,
    parent_id VARCHAR,
    author VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    like_count BIGINT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ,
    reply_count BIGINT NOT NULL,
    extra JSON NOT NULL DEFAULT '{}',
    run_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL
);
