-- The zone of local days is part of the data: rollup days and incident start
-- days were computed in it. The first start records it; a process configured
-- with another zone refuses to start (see PgStore::migrate).
CREATE TABLE liftwatch_settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Each incident's local start day, computed by liftwatch in the recorded zone,
-- so that no query needs a time-zone function (and any backend can answer).
-- Rows stored before this migration are filled in by the first start.
ALTER TABLE faults ADD COLUMN start_day date;
ALTER TABLE entrapments ADD COLUMN alarm_day date;
CREATE INDEX faults_open_stoppages ON faults (elevator_id, start_day)
    WHERE stops_service AND cleared_at IS NULL;
CREATE INDEX entrapments_awaiting_arrival ON entrapments (elevator_id, alarm_day)
    WHERE arrived_at IS NULL;
