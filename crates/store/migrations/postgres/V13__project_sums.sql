-- Project-day sums (issue 13, docs/storage.md "Project sums"): a project's
-- KPIs read at most one row per day of the window instead of one per
-- elevator-day. Exact and never stale: maintained in the transaction that
-- changes what they sum.
--   project_days:  the rollups of the project's member elevator-days, per
--                  day (ingest adds the same deltas as to `rollups`, joined
--                  to the membership of that day).
--   project_spans: the counter-reading spans of the project's elevators
--                  with both ends in one membership, per (prev_day, day)
--                  (maintained by the trigger below: a reading's span can
--                  be re-linked when an earlier reading arrives late).
-- A membership change rebuilds the project's rows from its first changed
-- day (registry). Ingest holds advisory lock 7460002 shared and a
-- membership change holds it exclusive, so a rebuild never misses a delta
-- nor does a delta land on a project it no longer belongs to.

CREATE TABLE project_days (
    project_id                  text NOT NULL,
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
    PRIMARY KEY (project_id, day)
);

CREATE TABLE project_spans (
    project_id       text NOT NULL,
    prev_day         date NOT NULL,
    day              date NOT NULL,
    pairs            bigint NOT NULL DEFAULT 0,
    resets           bigint NOT NULL DEFAULT 0,
    runs_reported    bigint NOT NULL DEFAULT 0,
    runs_by_odometer bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, prev_day, day)
);

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

-- The spans a statement on counter_readings adds (new rows) and removes
-- (old rows), summed per project and (prev_day, day) and applied in key
-- order (statement-level, so concurrent transactions lock the sums in one
-- order and never deadlock on them).
CREATE FUNCTION liftwatch_project_spans_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO project_spans AS s (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer)
        SELECT m.project_id, x.prev_day, x.day, count(*), count(*) FILTER (WHERE x.odometer_runs IS NULL),
               coalesce(sum(x.runs_in_span) FILTER (WHERE x.odometer_runs IS NOT NULL), 0),
               coalesce(sum(x.odometer_runs), 0)
        FROM new_rows x JOIN memberships m ON m.elevator_id = x.elevator_id
             AND x.prev_day >= m.since AND (m.until IS NULL OR x.day <= m.until)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, prev_day, day) DO UPDATE SET
            pairs = s.pairs + excluded.pairs, resets = s.resets + excluded.resets,
            runs_reported = s.runs_reported + excluded.runs_reported,
            runs_by_odometer = s.runs_by_odometer + excluded.runs_by_odometer;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO project_spans AS s (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer)
        SELECT m.project_id, x.prev_day, x.day, sum(x.sign), coalesce(sum(x.sign) FILTER (WHERE x.odometer_runs IS NULL), 0),
               coalesce(sum(x.sign * x.runs_in_span) FILTER (WHERE x.odometer_runs IS NOT NULL), 0),
               coalesce(sum(x.sign * x.odometer_runs), 0)
        FROM (SELECT n.elevator_id, n.prev_day, n.day, n.runs_in_span, n.odometer_runs, 1 AS sign FROM new_rows n
              UNION ALL
              SELECT o.elevator_id, o.prev_day, o.day, o.runs_in_span, o.odometer_runs, -1 FROM old_rows o) x
        JOIN memberships m ON m.elevator_id = x.elevator_id
             AND x.prev_day >= m.since AND (m.until IS NULL OR x.day <= m.until)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, prev_day, day) DO UPDATE SET
            pairs = s.pairs + excluded.pairs, resets = s.resets + excluded.resets,
            runs_reported = s.runs_reported + excluded.runs_reported,
            runs_by_odometer = s.runs_by_odometer + excluded.runs_by_odometer;
    ELSE
        INSERT INTO project_spans AS s (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer)
        SELECT m.project_id, x.prev_day, x.day, -count(*), -count(*) FILTER (WHERE x.odometer_runs IS NULL),
               -coalesce(sum(x.runs_in_span) FILTER (WHERE x.odometer_runs IS NOT NULL), 0),
               -coalesce(sum(x.odometer_runs), 0)
        FROM old_rows x JOIN memberships m ON m.elevator_id = x.elevator_id
             AND x.prev_day >= m.since AND (m.until IS NULL OR x.day <= m.until)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (project_id, prev_day, day) DO UPDATE SET
            pairs = s.pairs + excluded.pairs, resets = s.resets + excluded.resets,
            runs_reported = s.runs_reported + excluded.runs_reported,
            runs_by_odometer = s.runs_by_odometer + excluded.runs_by_odometer;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER counter_readings_spans_insert AFTER INSERT ON counter_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION liftwatch_project_spans_apply();
CREATE TRIGGER counter_readings_spans_update AFTER UPDATE ON counter_readings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION liftwatch_project_spans_apply();
CREATE TRIGGER counter_readings_spans_delete AFTER DELETE ON counter_readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION liftwatch_project_spans_apply();
