-- Project-day sums, as the PostgreSQL V13 (docs/storage.md "Project
-- sums"): project_days maintained by add_rollups, project_spans by the
-- triggers below, a membership change rebuilds the project's rows from its
-- first changed day. One writer: no lock is needed between them.

CREATE TABLE project_days (
    project_id                  TEXT NOT NULL,
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
    PRIMARY KEY (project_id, day)
) WITHOUT ROWID;

CREATE TABLE project_spans (
    project_id       TEXT NOT NULL,
    prev_day         TEXT NOT NULL,
    day              TEXT NOT NULL,
    pairs            INTEGER NOT NULL DEFAULT 0,
    resets           INTEGER NOT NULL DEFAULT 0,
    runs_reported    INTEGER NOT NULL DEFAULT 0,
    runs_by_odometer INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, prev_day, day)
) WITHOUT ROWID;

INSERT INTO project_days
SELECT m.project_id, r.day, sum(r.runs), sum(r.faults), sum(r.equipment_faults), sum(r.reported_equipment_faults),
       sum(r.reclassified_from_equipment), sum(r.stoppages_closed), sum(r.downtime_us), sum(r.stoppages_open),
       sum(r.entrapments), sum(r.rescues), sum(r.rescue_us), sum(r.awaiting_arrival)
FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id
     AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until)
GROUP BY m.project_id, r.day;

INSERT INTO project_spans
SELECT m.project_id, c.prev_day, c.day, count(*), count(*) FILTER (WHERE c.odometer_runs IS NULL),
       coalesce(sum(c.runs_in_span) FILTER (WHERE c.odometer_runs IS NOT NULL), 0),
       coalesce(sum(c.odometer_runs), 0)
FROM memberships m JOIN counter_readings c ON c.elevator_id = m.elevator_id
     AND c.prev_day >= m.since AND (m.until IS NULL OR c.day <= m.until)
GROUP BY m.project_id, c.prev_day, c.day;

CREATE TRIGGER counter_readings_spans_insert AFTER INSERT ON counter_readings BEGIN
    INSERT INTO project_spans (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer)
    SELECT m.project_id, NEW.prev_day, NEW.day, 1, NEW.odometer_runs IS NULL,
           CASE WHEN NEW.odometer_runs IS NULL THEN 0 ELSE NEW.runs_in_span END, coalesce(NEW.odometer_runs, 0)
    FROM memberships m
    WHERE NEW.prev_day IS NOT NULL AND m.elevator_id = NEW.elevator_id
      AND NEW.prev_day >= m.since AND (m.until IS NULL OR NEW.day <= m.until)
    ON CONFLICT (project_id, prev_day, day) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets,
        runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
END;

CREATE TRIGGER counter_readings_spans_update AFTER UPDATE ON counter_readings BEGIN
    UPDATE project_spans SET pairs = pairs - 1, resets = resets - (OLD.odometer_runs IS NULL),
           runs_reported = runs_reported - CASE WHEN OLD.odometer_runs IS NULL THEN 0 ELSE OLD.runs_in_span END,
           runs_by_odometer = runs_by_odometer - coalesce(OLD.odometer_runs, 0)
    WHERE OLD.prev_day IS NOT NULL AND prev_day = OLD.prev_day AND day = OLD.day AND project_id IN (
        SELECT m.project_id FROM memberships m WHERE m.elevator_id = OLD.elevator_id
           AND OLD.prev_day >= m.since AND (m.until IS NULL OR OLD.day <= m.until));
    INSERT INTO project_spans (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer)
    SELECT m.project_id, NEW.prev_day, NEW.day, 1, NEW.odometer_runs IS NULL,
           CASE WHEN NEW.odometer_runs IS NULL THEN 0 ELSE NEW.runs_in_span END, coalesce(NEW.odometer_runs, 0)
    FROM memberships m
    WHERE NEW.prev_day IS NOT NULL AND m.elevator_id = NEW.elevator_id
      AND NEW.prev_day >= m.since AND (m.until IS NULL OR NEW.day <= m.until)
    ON CONFLICT (project_id, prev_day, day) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets,
        runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
END;

CREATE TRIGGER counter_readings_spans_delete AFTER DELETE ON counter_readings BEGIN
    UPDATE project_spans SET pairs = pairs - 1, resets = resets - (OLD.odometer_runs IS NULL),
           runs_reported = runs_reported - CASE WHEN OLD.odometer_runs IS NULL THEN 0 ELSE OLD.runs_in_span END,
           runs_by_odometer = runs_by_odometer - coalesce(OLD.odometer_runs, 0)
    WHERE OLD.prev_day IS NOT NULL AND prev_day = OLD.prev_day AND day = OLD.day AND project_id IN (
        SELECT m.project_id FROM memberships m WHERE m.elevator_id = OLD.elevator_id
           AND OLD.prev_day >= m.since AND (m.until IS NULL OR OLD.day <= m.until));
END;
