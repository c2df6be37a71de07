-- Watch mode's hourly dense pass, claimed once per whole hour: every replica's scheduler ticks
-- (every minute by default), and only the one whose INSERT lands runs the pass, so a young
-- video's sample is never fetched twice.
CREATE TABLE watch_dense_passes (
    pass_at TIMESTAMPTZ PRIMARY KEY,
    claimed_at TIMESTAMPTZ NOT NULL
);
