-- Month sums over the project sums (docs/storage.md "Project sums"): a
-- window reads its whole months from these and only its edge days from
-- project_days / project_spans, so the regulator's overview of every
-- project reads ~40 rows per project instead of ~180.
--   project_months:      the project_days of each month, summed.
--   project_span_months: the project_spans with both ends in the month.
-- A span whose ends lie in different months (`crosses`) is read from
-- project_spans itself (a handful per project and month).
-- Both are kept by row triggers on the tables they sum, so every path that
-- changes those (ingest, readings re-linked, a membership rebuild) keeps
-- them, in the same transaction and in the same key order.

CREATE TABLE project_months (
    project_id                  text NOT NULL,
    month                       date NOT NULL,
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
    PRIMARY KEY (project_id, month)
);

CREATE TABLE project_span_months (
    project_id       text NOT NULL,
    month            date NOT NULL,
    pairs            bigint NOT NULL DEFAULT 0,
    resets           bigint NOT NULL DEFAULT 0,
    runs_reported    bigint NOT NULL DEFAULT 0,
    runs_by_odometer bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, month)
);

ALTER TABLE project_spans ADD COLUMN crosses boolean
    GENERATED ALWAYS AS (date_trunc('month', prev_day::timestamp) <> date_trunc('month', day::timestamp)) STORED;
CREATE INDEX project_spans_crossing ON project_spans (day) WHERE crosses;
CREATE INDEX project_spans_day ON project_spans (day);
CREATE INDEX project_days_day ON project_days (day);

INSERT INTO project_months
SELECT project_id, date_trunc('month', day::timestamp)::date, sum(runs), sum(faults), sum(equipment_faults),
       sum(reported_equipment_faults), sum(reclassified_from_equipment), sum(stoppages_closed), sum(downtime_us),
       sum(stoppages_open), sum(entrapments), sum(rescues), sum(rescue_us), sum(awaiting_arrival)
FROM project_days GROUP BY 1, 2;

INSERT INTO project_span_months
SELECT project_id, date_trunc('month', day::timestamp)::date, sum(pairs), sum(resets), sum(runs_reported),
       sum(runs_by_odometer)
FROM project_spans WHERE NOT crosses GROUP BY 1, 2;

-- Adds (sign 1) or removes (sign -1) one project_days row to its month.
CREATE FUNCTION liftwatch_project_month(r project_days, sign int8) RETURNS void LANGUAGE sql AS $$
    INSERT INTO project_months AS m VALUES (r.project_id, date_trunc('month', r.day::timestamp)::date,
        sign * r.runs, sign * r.faults, sign * r.equipment_faults, sign * r.reported_equipment_faults,
        sign * r.reclassified_from_equipment, sign * r.stoppages_closed, sign * r.downtime_us,
        sign * r.stoppages_open, sign * r.entrapments, sign * r.rescues, sign * r.rescue_us, sign * r.awaiting_arrival)
    ON CONFLICT (project_id, month) DO UPDATE SET
        runs = m.runs + excluded.runs, faults = m.faults + excluded.faults,
        equipment_faults = m.equipment_faults + excluded.equipment_faults,
        reported_equipment_faults = m.reported_equipment_faults + excluded.reported_equipment_faults,
        reclassified_from_equipment = m.reclassified_from_equipment + excluded.reclassified_from_equipment,
        stoppages_closed = m.stoppages_closed + excluded.stoppages_closed,
        downtime_us = m.downtime_us + excluded.downtime_us, stoppages_open = m.stoppages_open + excluded.stoppages_open,
        entrapments = m.entrapments + excluded.entrapments, rescues = m.rescues + excluded.rescues,
        rescue_us = m.rescue_us + excluded.rescue_us, awaiting_arrival = m.awaiting_arrival + excluded.awaiting_arrival
$$;

CREATE FUNCTION liftwatch_project_months() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM liftwatch_project_month(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM liftwatch_project_month(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_days_months AFTER INSERT OR UPDATE OR DELETE ON project_days
    FOR EACH ROW EXECUTE FUNCTION liftwatch_project_months();

-- Adds or removes one project_spans row to its month (same-month spans only).
CREATE FUNCTION liftwatch_project_span_month(r project_spans, sign int8) RETURNS void LANGUAGE sql AS $$
    INSERT INTO project_span_months AS m
    SELECT r.project_id, date_trunc('month', r.day::timestamp)::date,
           sign * r.pairs, sign * r.resets, sign * r.runs_reported, sign * r.runs_by_odometer
    WHERE NOT r.crosses
    ON CONFLICT (project_id, month) DO UPDATE SET
        pairs = m.pairs + excluded.pairs, resets = m.resets + excluded.resets,
        runs_reported = m.runs_reported + excluded.runs_reported,
        runs_by_odometer = m.runs_by_odometer + excluded.runs_by_odometer
$$;

CREATE FUNCTION liftwatch_project_span_months() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM liftwatch_project_span_month(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM liftwatch_project_span_month(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_spans_months AFTER INSERT OR UPDATE OR DELETE ON project_spans
    FOR EACH ROW EXECUTE FUNCTION liftwatch_project_span_months();
