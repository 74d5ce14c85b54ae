-- Webhooks: integrations (whose secrets verify deliveries), the durable inbox of
-- verified deliveries, what the mapping learnt from them (pushed commits, merged
-- pull requests, deployments), and outbound close-the-loop notifications.
--
-- Secrets are stored as given: HMAC verification and signing need them in clear.
-- Only the server reads these tables; protect the database like the secrets it holds.

CREATE TABLE webhook_integrations (
    id uuid PRIMARY KEY,
    source text NOT NULL CHECK (source IN ('github', 'gitlab', 'generic')),
    name text NOT NULL,
    secret text NOT NULL,
    production_environments text[] NOT NULL,
    deployment_workflows text[] NOT NULL DEFAULT '{}',
    releases_are_deployments boolean NOT NULL DEFAULT false,
    incident_label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One integration per (source, repository): the repository picks the secret.
CREATE TABLE webhook_integration_repositories (
    source text NOT NULL,
    repository text NOT NULL,
    integration_id uuid NOT NULL REFERENCES webhook_integrations (id) ON DELETE CASCADE,
    PRIMARY KEY (source, repository)
);
CREATE INDEX ON webhook_integration_repositories (integration_id);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    delivery_id text NOT NULL,
    event text NOT NULL,
    repository text,
    integration_id uuid,
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'mapped', 'ignored', 'failed')),
    reason text,
    outcome jsonb,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    mapped_at timestamptz,
    UNIQUE (source, delivery_id)
);
-- The mapper's queue: deliveries due for (another) mapping attempt.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, id);

-- Pushes chain heads to their parents, so a deployment of a sha carries every
-- commit pushed since the last deployed sha.
CREATE TABLE webhook_pushes (
    repository text NOT NULL,
    after_sha text NOT NULL,
    before_sha text NOT NULL,
    pushed_at timestamptz NOT NULL,
    PRIMARY KEY (repository, after_sha)
);
CREATE TABLE webhook_commits (
    repository text NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (repository, sha)
);
CREATE TABLE webhook_push_commits (
    repository text NOT NULL,
    after_sha text NOT NULL,
    sha text NOT NULL,
    PRIMARY KEY (repository, after_sha, sha)
);
-- Texts that reference feedback or decisions (pull-request titles, bodies, branch
-- names), linked to the commit that merged them.
CREATE TABLE webhook_commit_texts (
    repository text NOT NULL,
    sha text NOT NULL,
    origin text NOT NULL,
    texts text[] NOT NULL,
    PRIMARY KEY (repository, sha, origin)
);
-- Deployments (by the sender's deployment key) and the increment recorded for them.
CREATE TABLE webhook_deployments (
    deployment_key text PRIMARY KEY,
    repository text NOT NULL,
    commit_sha text,
    increment_id uuid NOT NULL,
    succeeded boolean NOT NULL,
    production boolean NOT NULL
);
CREATE INDEX ON webhook_deployments (repository, commit_sha) WHERE succeeded AND production;

CREATE TABLE notification_targets (
    id uuid PRIMARY KEY,
    url text NOT NULL,
    secret text NOT NULL,
    events text[] NOT NULL,
    since_position bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_deliveries (
    id bigserial PRIMARY KEY,
    target_id uuid NOT NULL REFERENCES notification_targets (id) ON DELETE CASCADE,
    message_id text NOT NULL,
    event text NOT NULL,
    position bigint NOT NULL,
    payload bytea NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (target_id, position)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at, id)
    WHERE next_attempt_at IS NOT NULL;

-- The delivery log: every attempt, its answer or error.
CREATE TABLE notification_attempts (
    delivery_id bigint NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status integer,
    error text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
