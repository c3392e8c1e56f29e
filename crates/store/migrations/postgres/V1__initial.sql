-- liftwatch schema v1 (PostgreSQL 15; TimescaleDB hypertable when available).

CREATE TABLE firms (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    grade                text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    self_declaration_url text,
    token_hash           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    firm_id     text NOT NULL REFERENCES firms (id),
    owner       text NOT NULL DEFAULT '',
    mode        text NOT NULL CHECK (mode IN ('iot', 'remote_pension', 'remote_full_service', 'remote')),
    admitted_on date NOT NULL,
    commitment  jsonb,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rectifying', 'exited')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Integer ids keep the event rows and their identity index small.
CREATE TABLE elevators (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_code   text NOT NULL UNIQUE,
    kind          text NOT NULL DEFAULT '',
    location      text NOT NULL DEFAULT '',
    insured_until date,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Membership history: [since, until] inclusive; until NULL = still a member.
CREATE TABLE memberships (
    elevator_id integer NOT NULL REFERENCES elevators (id),
    project_id  text NOT NULL REFERENCES projects (id),
    since       date NOT NULL,
    until       date,
    PRIMARY KEY (elevator_id, since),
    CHECK (until IS NULL OR until >= since)
);
CREATE INDEX memberships_project ON memberships (project_id);

-- Every distinct event, once (identity = elevator, seq, ts).
CREATE TABLE events (
    elevator_id   integer NOT NULL,
    seq           bigint NOT NULL,
    ts            timestamptz NOT NULL,
    kind          smallint NOT NULL,
    ts_offset     integer NOT NULL,
    end_ts        timestamptz,
    floor_from    integer,
    floor_to      integer,
    doors         integer,
    ref           text,
    code          text,
    stops_service boolean,
    cause         text,
    fault_ref     text,
    mode          text,
    runs_total    bigint,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_identity ON events (elevator_id, seq, ts);

-- Additive daily rollups (see docs/kpis.md).
CREATE TABLE rollups (
    elevator_id                 integer NOT NULL,
    day                         date NOT NULL,
    runs                        bigint NOT NULL DEFAULT 0,
    faults                      bigint NOT NULL DEFAULT 0,
    equipment_faults            bigint NOT NULL DEFAULT 0,
    reported_equipment_faults   bigint NOT NULL DEFAULT 0,
    reclassified_from_equipment bigint NOT NULL DEFAULT 0,
    stoppages_closed            bigint NOT NULL DEFAULT 0,
    downtime_us                 bigint NOT NULL DEFAULT 0,
    stoppages_open              bigint NOT NULL DEFAULT 0,
    entrapments                 bigint NOT NULL DEFAULT 0,
    rescues                     bigint NOT NULL DEFAULT 0,
    rescue_us                   bigint NOT NULL DEFAULT 0,
    awaiting_arrival            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (elevator_id, day)
);

CREATE TABLE fault_counts (
    elevator_id integer NOT NULL,
    day         date NOT NULL,
    code        text NOT NULL,
    cause       text NOT NULL,
    n           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (elevator_id, day, code, cause)
);

-- One row per fault occurrence: the paired state (core::incident::FaultRecord).
CREATE TABLE faults (
    elevator_id    integer NOT NULL,
    fault_id       text NOT NULL,
    start_ts       timestamptz,
    start_seq      bigint,
    code           text,
    stops_service  boolean,
    reported_cause text,
    cleared_at     timestamptz,
    cause          text,
    corrections    jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (elevator_id, fault_id)
);

CREATE TABLE entrapments (
    elevator_id integer NOT NULL,
    incident_id text NOT NULL,
    alarm_ts    timestamptz,
    alarm_seq   bigint,
    fault_id    text,
    arrived_at  timestamptz,
    released_at timestamptz,
    PRIMARY KEY (elevator_id, incident_id)
);

CREATE TABLE dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    device      text,
    reason_code text NOT NULL,
    reason      text NOT NULL,
    payload     bytea NOT NULL,
    replayed_at timestamptz,
    replay_note text
);
CREATE INDEX dead_letters_pending ON dead_letters (received_at) WHERE replayed_at IS NULL;

-- TimescaleDB when the extension can be created in this database; plain
-- tables otherwise (same results, see docs/architecture.md).
-- `SET liftwatch.timescaledb = 'off'` before migrating forces plain tables.
-- The extension is only tried when the server preloads it: without the
-- preload, CREATE EXTENSION timescaledb ends the session (FATAL), which no
-- exception handler can catch.
DO $$
BEGIN
    IF coalesce(current_setting('liftwatch.timescaledb', true), '') <> 'off'
       AND position('timescaledb' in current_setting('shared_preload_libraries')) > 0 THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb not available (%), using plain tables', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND coalesce(current_setting('liftwatch.timescaledb', true), '') <> 'off' THEN
        PERFORM create_hypertable('events', 'ts', chunk_time_interval => interval '1 day', migrate_data => true);
    END IF;
END
$$;
