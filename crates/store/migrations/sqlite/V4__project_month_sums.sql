-- Month sums over the project sums, as the PostgreSQL V14 (docs/storage.md
-- "Project sums"): whole months of a window from these, edge days from
-- project_days / project_spans; spans whose ends lie in different months
-- are read from project_spans (partial index below). Kept by triggers.

CREATE TABLE project_months (
    project_id TEXT NOT NULL,
    month      TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    faults INTEGER NOT NULL DEFAULT 0,
    equipment_faults INTEGER NOT NULL DEFAULT 0,
    reported_equipment_faults INTEGER NOT NULL DEFAULT 0,
    reclassified_from_equipment INTEGER NOT NULL DEFAULT 0,
    stoppages_closed INTEGER NOT NULL DEFAULT 0,
    downtime_us INTEGER NOT NULL DEFAULT 0,
    stoppages_open INTEGER NOT NULL DEFAULT 0,
    entrapments INTEGER NOT NULL DEFAULT 0,
    rescues INTEGER NOT NULL DEFAULT 0,
    rescue_us INTEGER NOT NULL DEFAULT 0,
    awaiting_arrival INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, month)
) WITHOUT ROWID;

CREATE TABLE project_span_months (
    project_id TEXT NOT NULL,
    month      TEXT NOT NULL,
    pairs INTEGER NOT NULL DEFAULT 0,
    resets INTEGER NOT NULL DEFAULT 0,
    runs_reported INTEGER NOT NULL DEFAULT 0,
    runs_by_odometer INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, month)
) WITHOUT ROWID;

CREATE INDEX project_spans_crossing ON project_spans (day) WHERE substr(prev_day, 1, 7) <> substr(day, 1, 7);
CREATE INDEX project_spans_day ON project_spans (day);
CREATE INDEX project_days_day ON project_days (day);

INSERT INTO project_months
SELECT project_id, substr(day, 1, 7) || '-01', sum(runs), sum(faults), sum(equipment_faults), sum(reported_equipment_faults), sum(reclassified_from_equipment), sum(stoppages_closed), sum(downtime_us), sum(stoppages_open), sum(entrapments), sum(rescues), sum(rescue_us), sum(awaiting_arrival)
FROM project_days GROUP BY 1, 2;

INSERT INTO project_span_months
SELECT project_id, substr(day, 1, 7) || '-01', sum(pairs), sum(resets), sum(runs_reported), sum(runs_by_odometer)
FROM project_spans WHERE substr(prev_day, 1, 7) = substr(day, 1, 7) GROUP BY 1, 2;

CREATE TRIGGER project_days_months_insert AFTER INSERT ON project_days BEGIN
    INSERT INTO project_months (project_id, month, runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival)
    SELECT NEW.project_id, substr(NEW.day, 1, 7) || '-01', NEW.runs, NEW.faults, NEW.equipment_faults, NEW.reported_equipment_faults, NEW.reclassified_from_equipment, NEW.stoppages_closed, NEW.downtime_us, NEW.stoppages_open, NEW.entrapments, NEW.rescues, NEW.rescue_us, NEW.awaiting_arrival WHERE true
    ON CONFLICT (project_id, month) DO UPDATE SET
        runs = runs + excluded.runs, faults = faults + excluded.faults, equipment_faults = equipment_faults + excluded.equipment_faults, reported_equipment_faults = reported_equipment_faults + excluded.reported_equipment_faults, reclassified_from_equipment = reclassified_from_equipment + excluded.reclassified_from_equipment, stoppages_closed = stoppages_closed + excluded.stoppages_closed, downtime_us = downtime_us + excluded.downtime_us, stoppages_open = stoppages_open + excluded.stoppages_open, entrapments = entrapments + excluded.entrapments, rescues = rescues + excluded.rescues, rescue_us = rescue_us + excluded.rescue_us, awaiting_arrival = awaiting_arrival + excluded.awaiting_arrival;
END;

CREATE TRIGGER project_days_months_update AFTER UPDATE ON project_days BEGIN
    INSERT INTO project_months (project_id, month, runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival)
    SELECT OLD.project_id, substr(OLD.day, 1, 7) || '-01', -OLD.runs, -OLD.faults, -OLD.equipment_faults, -OLD.reported_equipment_faults, -OLD.reclassified_from_equipment, -OLD.stoppages_closed, -OLD.downtime_us, -OLD.stoppages_open, -OLD.entrapments, -OLD.rescues, -OLD.rescue_us, -OLD.awaiting_arrival WHERE true
    ON CONFLICT (project_id, month) DO UPDATE SET
        runs = runs + excluded.runs, faults = faults + excluded.faults, equipment_faults = equipment_faults + excluded.equipment_faults, reported_equipment_faults = reported_equipment_faults + excluded.reported_equipment_faults, reclassified_from_equipment = reclassified_from_equipment + excluded.reclassified_from_equipment, stoppages_closed = stoppages_closed + excluded.stoppages_closed, downtime_us = downtime_us + excluded.downtime_us, stoppages_open = stoppages_open + excluded.stoppages_open, entrapments = entrapments + excluded.entrapments, rescues = rescues + excluded.rescues, rescue_us = rescue_us + excluded.rescue_us, awaiting_arrival = awaiting_arrival + excluded.awaiting_arrival;
    INSERT INTO project_months (project_id, month, runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival)
    SELECT NEW.project_id, substr(NEW.day, 1, 7) || '-01', NEW.runs, NEW.faults, NEW.equipment_faults, NEW.reported_equipment_faults, NEW.reclassified_from_equipment, NEW.stoppages_closed, NEW.downtime_us, NEW.stoppages_open, NEW.entrapments, NEW.rescues, NEW.rescue_us, NEW.awaiting_arrival WHERE true
    ON CONFLICT (project_id, month) DO UPDATE SET
        runs = runs + excluded.runs, faults = faults + excluded.faults, equipment_faults = equipment_faults + excluded.equipment_faults, reported_equipment_faults = reported_equipment_faults + excluded.reported_equipment_faults, reclassified_from_equipment = reclassified_from_equipment + excluded.reclassified_from_equipment, stoppages_closed = stoppages_closed + excluded.stoppages_closed, downtime_us = downtime_us + excluded.downtime_us, stoppages_open = stoppages_open + excluded.stoppages_open, entrapments = entrapments + excluded.entrapments, rescues = rescues + excluded.rescues, rescue_us = rescue_us + excluded.rescue_us, awaiting_arrival = awaiting_arrival + excluded.awaiting_arrival;
END;

CREATE TRIGGER project_days_months_delete AFTER DELETE ON project_days BEGIN
    INSERT INTO project_months (project_id, month, runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival)
    SELECT OLD.project_id, substr(OLD.day, 1, 7) || '-01', -OLD.runs, -OLD.faults, -OLD.equipment_faults, -OLD.reported_equipment_faults, -OLD.reclassified_from_equipment, -OLD.stoppages_closed, -OLD.downtime_us, -OLD.stoppages_open, -OLD.entrapments, -OLD.rescues, -OLD.rescue_us, -OLD.awaiting_arrival WHERE true
    ON CONFLICT (project_id, month) DO UPDATE SET
        runs = runs + excluded.runs, faults = faults + excluded.faults, equipment_faults = equipment_faults + excluded.equipment_faults, reported_equipment_faults = reported_equipment_faults + excluded.reported_equipment_faults, reclassified_from_equipment = reclassified_from_equipment + excluded.reclassified_from_equipment, stoppages_closed = stoppages_closed + excluded.stoppages_closed, downtime_us = downtime_us + excluded.downtime_us, stoppages_open = stoppages_open + excluded.stoppages_open, entrapments = entrapments + excluded.entrapments, rescues = rescues + excluded.rescues, rescue_us = rescue_us + excluded.rescue_us, awaiting_arrival = awaiting_arrival + excluded.awaiting_arrival;
END;

CREATE TRIGGER project_spans_months_insert AFTER INSERT ON project_spans BEGIN
    INSERT INTO project_span_months (project_id, month, pairs, resets, runs_reported, runs_by_odometer)
    SELECT NEW.project_id, substr(NEW.day, 1, 7) || '-01', NEW.pairs, NEW.resets, NEW.runs_reported, NEW.runs_by_odometer WHERE substr(NEW.prev_day, 1, 7) = substr(NEW.day, 1, 7)
    ON CONFLICT (project_id, month) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets, runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
END;

CREATE TRIGGER project_spans_months_update AFTER UPDATE ON project_spans BEGIN
    INSERT INTO project_span_months (project_id, month, pairs, resets, runs_reported, runs_by_odometer)
    SELECT OLD.project_id, substr(OLD.day, 1, 7) || '-01', -OLD.pairs, -OLD.resets, -OLD.runs_reported, -OLD.runs_by_odometer WHERE substr(OLD.prev_day, 1, 7) = substr(OLD.day, 1, 7)
    ON CONFLICT (project_id, month) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets, runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
    INSERT INTO project_span_months (project_id, month, pairs, resets, runs_reported, runs_by_odometer)
    SELECT NEW.project_id, substr(NEW.day, 1, 7) || '-01', NEW.pairs, NEW.resets, NEW.runs_reported, NEW.runs_by_odometer WHERE substr(NEW.prev_day, 1, 7) = substr(NEW.day, 1, 7)
    ON CONFLICT (project_id, month) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets, runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
END;

CREATE TRIGGER project_spans_months_delete AFTER DELETE ON project_spans BEGIN
    INSERT INTO project_span_months (project_id, month, pairs, resets, runs_reported, runs_by_odometer)
    SELECT OLD.project_id, substr(OLD.day, 1, 7) || '-01', -OLD.pairs, -OLD.resets, -OLD.runs_reported, -OLD.runs_by_odometer WHERE substr(OLD.prev_day, 1, 7) = substr(OLD.day, 1, 7)
    ON CONFLICT (project_id, month) DO UPDATE SET
        pairs = pairs + excluded.pairs, resets = resets + excluded.resets, runs_reported = runs_reported + excluded.runs_reported, runs_by_odometer = runs_by_odometer + excluded.runs_by_odometer;
END;
