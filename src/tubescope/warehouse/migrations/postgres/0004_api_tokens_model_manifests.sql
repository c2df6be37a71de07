-- PostgreSQL twin of ../0004_api_tokens_model_manifests.sql.
CREATE TABLE api_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    token_id TEXT COLLATE "C" NOT NULL UNIQUE,
    name TEXT NOT NULL,
    scope TEXT COLLATE "C" NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE model_manifests (
    version TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT COLLATE "C" NOT NULL,
    feature_version TEXT COLLATE "C" NOT NULL,
    manifest JSONB NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL
);
