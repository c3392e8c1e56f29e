-- What firms and regulators record, and the rule engine's findings.

-- Maintenance visits: on-site (现场维保) and remote checks (远程检查).
CREATE TABLE visits (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    elevator_id integer NOT NULL REFERENCES elevators (id),
    kind        text NOT NULL CHECK (kind IN ('onsite', 'remote_check')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL,
    technician  text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at >= started_at)
);
CREATE INDEX visits_elevator ON visits (elevator_id, started_at);

-- Findings of the rule engine (A1 §III, §IV); served by the API.
CREATE TABLE findings (
    id          text PRIMARY KEY,
    rule        text NOT NULL,
    project_id  text REFERENCES projects (id),
    firm_id     text REFERENCES firms (id),
    action      text NOT NULL CHECK (action IN ('notice', 'rectify', 'exit', 'disqualify')),
    severity    text NOT NULL,
    summary     text NOT NULL,
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz,
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed'))
);
CREATE INDEX findings_project ON findings (project_id, state);
