-- The event store, in the layout of eventsourcing's PostgreSQL recorder, so the
-- library's own recorder can read (and write) Loopline's events.

CREATE TABLE IF NOT EXISTS stored_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);

CREATE UNIQUE INDEX IF NOT EXISTS stored_events_notification_id_idx
    ON stored_events (notification_id ASC);

-- The composite type the library's recorder inserts through.
DO $$
BEGIN
    CREATE TYPE stored_event_uuid AS (
        originator_id uuid, originator_version bigint, topic text, state bytea
    );
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Single-row tracking: one position per projection (application_name).
CREATE TABLE IF NOT EXISTS notification_tracking (
    application_name text PRIMARY KEY,
    notification_id bigint
);

-- Named counters for human keys (FB-n, DEC-n): never reused, gaps allowed.
CREATE TABLE key_sequences (
    name text PRIMARY KEY,
    value bigint NOT NULL
);

-- Appends a batch of events atomically in one round trip. The EXCLUSIVE lock
-- serialises inserting transactions, so notification ids become visible in
-- commit order and a follower never passes over an id that commits later.
CREATE FUNCTION loopline_append(
    ids uuid[], versions bigint[], topics text[], states bytea[]
) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE stored_events IN EXCLUSIVE MODE;
    NOTIFY stored_events;
    RETURN QUERY
        INSERT INTO stored_events (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id;
END
$$;
