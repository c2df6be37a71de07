-- PostgreSQL twin of ../0005_watches_websub_alerts.sql.
CREATE TABLE watches (
    channel_id TEXT COLLATE "C" PRIMARY KEY,
    every_seconds BIGINT NOT NULL CHECK (every_seconds >= 60),
    watch_group TEXT NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    last_tick_at TIMESTAMPTZ
);

CREATE TABLE websub_subscriptions (
    channel_id TEXT COLLATE "C" PRIMARY KEY,
    callback TEXT NOT NULL,
    secret TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);

CREATE TABLE alerts (
    alert_id TEXT COLLATE "C" PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    rule TEXT COLLATE "C" NOT NULL,
    channel_id TEXT COLLATE "C",
    video_id TEXT COLLATE "C",
    fired_at TIMESTAMPTZ NOT NULL,
    value DOUBLE PRECISION,
    message TEXT NOT NULL,
    delivered JSONB NOT NULL
);
