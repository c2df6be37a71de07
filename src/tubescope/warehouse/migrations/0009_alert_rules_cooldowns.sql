-- Alerts: rules added through REST (beside those in tubescope.toml), and each rule's cooldown per
-- subject. A cooldown is claimed by compare-and-set on ``until`` (like a watch tick), so replicas
-- that evaluate the same rule at once send one alert, and a restart does not send it again.
CREATE TABLE alert_rules (
    name VARCHAR PRIMARY KEY,
    -- The rule as JSON (kind, threshold, cooldown, channels, ages): the REST body, validated.
    spec VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE alert_cooldowns (
    rule VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rule, subject)
);
