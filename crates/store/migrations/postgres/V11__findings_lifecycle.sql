-- The rule engine (issue 10): findings with their subject, clause, evidence
-- and lifecycle; regulators' acknowledgements and notes; the exits and
-- disqualifications the engine records (they start the 2-year bans).

ALTER TABLE findings DROP CONSTRAINT findings_action_check;
ALTER TABLE findings ADD CONSTRAINT findings_action_check
    CHECK (action IN ('notice', 'rectify', 'stop', 'exit', 'disqualify'));
ALTER TABLE findings DROP CONSTRAINT findings_state_check;
UPDATE findings SET state = 'resolved' WHERE state = 'closed';
ALTER TABLE findings ADD CONSTRAINT findings_state_check CHECK (state IN ('open', 'resolved'));
ALTER TABLE findings RENAME COLUMN closed_at TO resolved_at;
ALTER TABLE findings
    ADD COLUMN subject         text,
    ADD COLUMN clause          text NOT NULL DEFAULT '',
    ADD COLUMN evidence        jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN summary_zh      text NOT NULL DEFAULT '',
    ADD COLUMN draft           jsonb,
    ADD COLUMN clearing        jsonb,
    ADD COLUMN updated_at      timestamptz,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text;
-- One open finding per (rule, subject).
CREATE UNIQUE INDEX findings_one_open ON findings (rule, subject) WHERE state = 'open';
CREATE INDEX findings_firm ON findings (firm_id, state);
CREATE SEQUENCE findings_number;

CREATE TABLE finding_notes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id  text NOT NULL REFERENCES findings (id),
    at          timestamptz NOT NULL,
    by_whom     text NOT NULL,
    note        text NOT NULL
);
CREATE INDEX finding_notes_finding ON finding_notes (finding_id, id);

CREATE TABLE pilot_exits (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id),
    firm_id     text NOT NULL REFERENCES firms (id),
    on_day      date NOT NULL,
    devices     text[] NOT NULL,
    reason      text NOT NULL,
    finding_id  text REFERENCES findings (id)
);

CREATE TABLE disqualifications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    firm_id     text NOT NULL REFERENCES firms (id),
    on_day      date NOT NULL,
    reason      text NOT NULL,
    finding_id  text REFERENCES findings (id)
);

-- The latest on-site maintenance of each box (kind 6 = maintenance), cheap
-- to find whatever the number of runs stored.
CREATE INDEX events_maintenance ON events (elevator_id, ts DESC) WHERE kind = 6;
