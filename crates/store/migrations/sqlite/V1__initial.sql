-- liftwatch schema v1 for the embedded store (SQLite): the same tables as
-- the PostgreSQL schema after its V11, in SQLite's types.
-- Times are INTEGER microseconds since the epoch (UTC), local days TEXT
-- 'YYYY-MM-DD' (they compare as dates), JSON TEXT, booleans 0/1; arrays are
-- JSON arrays in TEXT. Ids never come back after a delete (AUTOINCREMENT),
-- as PostgreSQL's identity columns.

CREATE TABLE liftwatch_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Counters standing in for PostgreSQL sequences (findings are `F<n>`).
CREATE TABLE liftwatch_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO liftwatch_counters (name, value) VALUES ('findings', 0);

CREATE TABLE firms (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    grade                TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    self_declaration_url TEXT,
    token_hash           TEXT,
    created_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    firm_id     TEXT NOT NULL REFERENCES firms (id),
    owner       TEXT NOT NULL DEFAULT '',
    mode        TEXT NOT NULL CHECK (mode IN ('iot', 'remote_pension', 'remote_full_service', 'remote')),
    admitted_on TEXT NOT NULL,
    commitment  TEXT,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'rectifying', 'exited')),
    pilot_form  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

CREATE TABLE elevators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    device_code   TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL DEFAULT '',
    location      TEXT NOT NULL DEFAULT '',
    insured_until TEXT,
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);

-- Membership history: [since, until] inclusive; until NULL = still a member.
CREATE TABLE memberships (
    elevator_id INTEGER NOT NULL REFERENCES elevators (id),
    project_id  TEXT NOT NULL REFERENCES projects (id),
    since       TEXT NOT NULL,
    until       TEXT,
    PRIMARY KEY (elevator_id, since),
    CHECK (until IS NULL OR until >= since)
);
CREATE INDEX memberships_project ON memberships (project_id);

-- Every distinct event, once (identity = elevator, seq, ts).
CREATE TABLE events (
    elevator_id   INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    kind          INTEGER NOT NULL,
    ts_offset     INTEGER NOT NULL,
    end_ts        INTEGER,
    floor_from    INTEGER,
    floor_to      INTEGER,
    doors         INTEGER,
    ref           TEXT,
    code          TEXT,
    stops_service INTEGER,
    cause         TEXT,
    fault_ref     TEXT,
    mode          TEXT,
    runs_total    INTEGER,
    received_at   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (elevator_id, seq, ts)
) WITHOUT ROWID;
-- Counting the runs of one span of one elevator (kind 0 = run).
CREATE INDEX events_runs_by_time ON events (elevator_id, ts) WHERE kind = 0;
-- The latest on-site maintenance of each box (kind 6 = maintenance).
CREATE INDEX events_maintenance ON events (elevator_id, ts) WHERE kind = 6;

-- Additive daily rollups (see docs/kpis.md).
CREATE TABLE rollups (
    elevator_id                 INTEGER NOT NULL,
    day                         TEXT NOT NULL,
    runs                        INTEGER NOT NULL DEFAULT 0,
    faults                      INTEGER NOT NULL DEFAULT 0,
    equipment_faults            INTEGER NOT NULL DEFAULT 0,
    reported_equipment_faults   INTEGER NOT NULL DEFAULT 0,
    reclassified_from_equipment INTEGER NOT NULL DEFAULT 0,
    stoppages_closed            INTEGER NOT NULL DEFAULT 0,
    downtime_us                 INTEGER NOT NULL DEFAULT 0,
    stoppages_open              INTEGER NOT NULL DEFAULT 0,
    entrapments                 INTEGER NOT NULL DEFAULT 0,
    rescues                     INTEGER NOT NULL DEFAULT 0,
    rescue_us                   INTEGER NOT NULL DEFAULT 0,
    awaiting_arrival            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (elevator_id, day)
) WITHOUT ROWID;

CREATE TABLE fault_counts (
    elevator_id INTEGER NOT NULL,
    day         TEXT NOT NULL,
    code        TEXT NOT NULL,
    cause       TEXT NOT NULL,
    n           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (elevator_id, day, code, cause)
) WITHOUT ROWID;

-- One row per fault occurrence: the paired state (core::incident::FaultRecord).
-- clearings: JSON array of the reported clearing times (sorted).
CREATE TABLE faults (
    elevator_id      INTEGER NOT NULL,
    fault_id         TEXT NOT NULL,
    start_ts         INTEGER,
    start_day        TEXT,
    start_seq        INTEGER,
    code             TEXT,
    stops_service    INTEGER,
    reported_cause   TEXT,
    cleared_at       INTEGER,
    cause            TEXT,
    corrections      TEXT NOT NULL DEFAULT '[]',
    clearings        TEXT NOT NULL DEFAULT '[]',
    early_cleared_at INTEGER,
    PRIMARY KEY (elevator_id, fault_id)
);
CREATE INDEX faults_open_stoppages ON faults (elevator_id, start_day) WHERE stops_service AND cleared_at IS NULL;

-- arrivals: JSON array of the reported arrival times (sorted).
CREATE TABLE entrapments (
    elevator_id         INTEGER NOT NULL,
    incident_id         TEXT NOT NULL,
    alarm_ts            INTEGER,
    alarm_day           TEXT,
    alarm_seq           INTEGER,
    fault_id            TEXT,
    arrived_at          INTEGER,
    released_at         INTEGER,
    arrival_reported_by TEXT,
    arrivals            TEXT NOT NULL DEFAULT '[]',
    early_arrival_at    INTEGER,
    PRIMARY KEY (elevator_id, incident_id)
);
CREATE INDEX entrapments_awaiting_arrival ON entrapments (elevator_id, alarm_day) WHERE arrived_at IS NULL;

-- dedupe_key = SHA-256 of (topic, 0, reason code, 0, whole payload), computed by liftwatch.
CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at   INTEGER NOT NULL,
    topic         TEXT NOT NULL,
    device        TEXT,
    reason_code   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    payload       BLOB NOT NULL,
    replayed_at   INTEGER,
    replay_note   TEXT,
    dedupe_key    BLOB NOT NULL,
    payload_bytes INTEGER NOT NULL,
    seen_count    INTEGER NOT NULL DEFAULT 1,
    last_seen_at  INTEGER NOT NULL
);
CREATE INDEX dead_letters_pending ON dead_letters (received_at) WHERE replayed_at IS NULL;
CREATE UNIQUE INDEX dead_letters_dedupe ON dead_letters (dedupe_key) WHERE replayed_at IS NULL;
CREATE INDEX dead_letters_last_seen ON dead_letters (last_seen_at);

-- Telemetry completeness (docs/kpis.md §9), as in the PostgreSQL V7.
CREATE TABLE counter_readings (
    elevator_id   INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    runs_total    INTEGER NOT NULL,
    day           TEXT NOT NULL,
    runs_in_span  INTEGER NOT NULL DEFAULT 0,
    prev_day      TEXT,
    odometer_runs INTEGER,
    PRIMARY KEY (elevator_id, ts, seq)
) WITHOUT ROWID;
CREATE INDEX counter_readings_day ON counter_readings (elevator_id, day);

CREATE TABLE device_telemetry (
    elevator_id      INTEGER PRIMARY KEY,
    events           INTEGER NOT NULL,
    min_seq          INTEGER NOT NULL,
    max_seq          INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    pairs            INTEGER NOT NULL DEFAULT 0,
    resets           INTEGER NOT NULL DEFAULT 0,
    runs_reported    INTEGER NOT NULL DEFAULT 0,
    runs_by_odometer INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX device_telemetry_last_seen ON device_telemetry (last_seen);

-- Maintenance visits: on-site (现场维保) and remote checks (远程检查).
CREATE TABLE visits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    elevator_id INTEGER NOT NULL REFERENCES elevators (id),
    kind        TEXT NOT NULL CHECK (kind IN ('onsite', 'remote_check')),
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER NOT NULL,
    technician  TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    CHECK (ended_at >= started_at)
);
CREATE INDEX visits_elevator ON visits (elevator_id, started_at);

-- Findings of the rule engine; one open finding per (rule, subject).
CREATE TABLE findings (
    id              TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    project_id      TEXT REFERENCES projects (id),
    firm_id         TEXT REFERENCES firms (id),
    action          TEXT NOT NULL CHECK (action IN ('notice', 'rectify', 'stop', 'exit', 'disqualify')),
    severity        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    opened_at       INTEGER NOT NULL,
    resolved_at     INTEGER,
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    subject         TEXT,
    clause          TEXT NOT NULL DEFAULT '',
    evidence        TEXT NOT NULL DEFAULT '{}',
    summary_zh      TEXT NOT NULL DEFAULT '',
    draft           TEXT,
    clearing        TEXT,
    updated_at      INTEGER,
    acknowledged_at INTEGER,
    acknowledged_by TEXT
);
CREATE INDEX findings_project ON findings (project_id, state);
CREATE INDEX findings_firm ON findings (firm_id, state);
CREATE UNIQUE INDEX findings_one_open ON findings (rule, subject) WHERE state = 'open';

CREATE TABLE finding_notes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id  TEXT NOT NULL REFERENCES findings (id),
    at          INTEGER NOT NULL,
    by_whom     TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX finding_notes_finding ON finding_notes (finding_id, id);

-- devices: JSON array of device codes.
CREATE TABLE pilot_exits (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    firm_id     TEXT NOT NULL REFERENCES firms (id),
    on_day      TEXT NOT NULL,
    devices     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    finding_id  TEXT REFERENCES findings (id)
);

CREATE TABLE disqualifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    firm_id     TEXT NOT NULL REFERENCES firms (id),
    on_day      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    finding_id  TEXT REFERENCES findings (id)
);

-- What regulators record (A1 §III, §IV; N §III.(三)).
CREATE TABLE complaints (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id                 TEXT NOT NULL REFERENCES projects (id),
    elevator_id                INTEGER REFERENCES elevators (id),
    received_on                TEXT NOT NULL,
    safety_or_quality          TEXT NOT NULL CHECK (safety_or_quality IN ('safety', 'quality', 'other')),
    verified                   INTEGER NOT NULL DEFAULT 0,
    maintenance_quality_caused INTEGER NOT NULL DEFAULT 0,
    summary                    TEXT NOT NULL,
    recorded_by                TEXT NOT NULL,
    recorded_at                INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at                 INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX complaints_project ON complaints (project_id, received_on);

CREATE TABLE inspections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   TEXT NOT NULL REFERENCES projects (id),
    elevator_id  INTEGER REFERENCES elevators (id),
    kind         TEXT NOT NULL CHECK (kind IN ('periodic_inspection', 'spot_check', 'supervision')),
    on_date      TEXT NOT NULL,
    hazard_found INTEGER NOT NULL DEFAULT 0,
    passed       INTEGER NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    recorded_by  TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX inspections_project ON inspections (project_id, on_date);

CREATE TABLE accidents (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id            TEXT NOT NULL REFERENCES projects (id),
    elevator_id           INTEGER NOT NULL REFERENCES elevators (id),
    on_date               TEXT NOT NULL,
    caused_by_maintenance INTEGER NOT NULL,
    summary               TEXT NOT NULL,
    recorded_by           TEXT NOT NULL,
    recorded_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
);
CREATE INDEX accidents_project ON accidents (project_id, on_date);

CREATE TABLE rectification_orders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    TEXT NOT NULL REFERENCES projects (id),
    issued_on     TEXT NOT NULL,
    deadline      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    inspection_id INTEGER REFERENCES inspections (id),
    finding_id    TEXT REFERENCES findings (id),
    completed_on  TEXT,
    completed_by  TEXT,
    recorded_by   TEXT NOT NULL,
    recorded_at   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    CHECK (deadline >= issued_on),
    CHECK (completed_on IS NULL OR completed_on >= issued_on)
);
CREATE INDEX rectification_orders_project ON rectification_orders (project_id, issued_on);
CREATE INDEX rectification_orders_open ON rectification_orders (deadline) WHERE completed_on IS NULL;

CREATE TABLE firm_grades (
    firm_id       TEXT NOT NULL REFERENCES firms (id),
    year          INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2200),
    grade         TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    self_declared INTEGER,
    recorded_by   TEXT NOT NULL,
    recorded_at   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    PRIMARY KEY (firm_id, year)
);

-- Alerts: webhook subscriptions and the durable outbox of finding events.
-- actions: JSON array of action names, NULL for all.
CREATE TABLE webhooks (
    key         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    firm_id     TEXT REFERENCES firms (id),
    actions     TEXT,
    owner       TEXT NOT NULL,
    created_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    UNIQUE (owner, id)
);

CREATE TABLE alert_outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    firm_id     TEXT,
    action      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One row per (event, target). target_key is 'webhook:<key>' or 'mqtt'.
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_seq      INTEGER NOT NULL REFERENCES alert_outbox (seq) ON DELETE CASCADE,
    webhook_key     INTEGER REFERENCES webhooks (key) ON DELETE CASCADE,
    target_key      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    lease_owner     TEXT,
    delivered_at    INTEGER,
    last_error      TEXT,
    UNIQUE (outbox_seq, target_key)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX alert_deliveries_subject ON alert_deliveries (target_key, subject, outbox_seq) WHERE delivered_at IS NULL;
