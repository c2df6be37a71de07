-- PostgreSQL twin of ../0011_watch_dense_passes.sql.
CREATE TABLE watch_dense_passes (
    pass_at TIMESTAMPTZ PRIMARY KEY,
    claimed_at TIMESTAMPTZ NOT NULL
);
