-- Bearer tokens for the HTTP API. Only a SHA-256 of each token is stored.

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'product', 'member')),
    team_ids uuid[] NOT NULL DEFAULT '{}',
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);

CREATE UNIQUE INDEX api_tokens_bootstrap ON api_tokens (name) WHERE name = 'bootstrap-admin';
