-- Read models live in one schema per projection build (p_<name>_v<version>_g<n>);
-- queries read them through views in the "read" schema, which a rebuild repoints
-- atomically once the new build has caught up.

CREATE SCHEMA IF NOT EXISTS read;

CREATE TABLE projection_registry (
    name text PRIMARY KEY,
    active_schema text,
    active_version integer,
    building_schema text,
    building_version integer,
    generation integer NOT NULL DEFAULT 0,
    rebuild_requested boolean NOT NULL DEFAULT false,
    failed_position bigint,
    failed_error text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
