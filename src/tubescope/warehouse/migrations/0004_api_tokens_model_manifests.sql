-- Shared state that replicas must agree on: API tokens (hashed) and saved models' manifests.
CREATE TABLE api_tokens (
    -- SHA-256 hex of the token; the token itself is never stored.
    token_hash VARCHAR PRIMARY KEY,
    token_id VARCHAR NOT NULL UNIQUE,
    name VARCHAR NOT NULL,
    scope VARCHAR NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per saved model version (the model file stays in the model directory).
CREATE TABLE model_manifests (
    version VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    feature_version VARCHAR NOT NULL,
    manifest JSON NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL
);
