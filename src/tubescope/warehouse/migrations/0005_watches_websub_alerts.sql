-- Watch mode: what is watched and how often, WebSub subscriptions, and alerts fired.
CREATE TABLE watches (
    channel_id VARCHAR PRIMARY KEY,
    every_seconds BIGINT NOT NULL CHECK (every_seconds >= 60),
    watch_group VARCHAR NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    -- The last tick handed to the queue; a tick is claimed by moving this forward (compare and
    -- set), so many schedulers enqueue each tick once, and a long downtime is caught up once.
    last_tick_at TIMESTAMPTZ
);

CREATE TABLE websub_subscriptions (
    channel_id VARCHAR PRIMARY KEY,
    callback VARCHAR NOT NULL,
    -- The HMAC secret shared with the hub: every replica must check pushes with it.
    secret VARCHAR NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);

CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY,
    -- One alert per rule and subject and window: a second firing is refused by this key.
    dedupe_key VARCHAR NOT NULL UNIQUE,
    rule VARCHAR NOT NULL,
    channel_id VARCHAR,
    video_id VARCHAR,
    fired_at TIMESTAMPTZ NOT NULL,
    value DOUBLE,
    message VARCHAR NOT NULL,
    delivered JSON NOT NULL
);
