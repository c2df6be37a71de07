-- PostgreSQL twin of ../0009_alert_rules_cooldowns.sql.
CREATE TABLE alert_rules (
    name TEXT COLLATE "C" PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE alert_cooldowns (
    rule TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rule, subject)
);
