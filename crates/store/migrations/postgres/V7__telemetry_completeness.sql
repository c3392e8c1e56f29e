-- Telemetry completeness (docs/kpis.md §9): counter readings with the runs
-- reported in the span ending at each, and per-device seq/liveness figures.
-- Both are maintained at ingest (core::ingest step 4); KPI queries sum these
-- small rows and never scan raw events.

-- One row per counter event (identity elevator, ts, seq; ordered by ts, seq).
-- The span ending at a reading starts at the previous reading: runs_in_span =
-- run events with previous.ts < ts <= this.ts; prev_day = the previous
-- reading's local day (NULL: the elevator's first reading); odometer_runs =
-- runs_total - previous runs_total (NULL: first reading, or a reset).
CREATE TABLE counter_readings (
    elevator_id   integer NOT NULL,
    ts            timestamptz NOT NULL,
    seq           bigint NOT NULL,
    runs_total    bigint NOT NULL,
    day           date NOT NULL,
    runs_in_span  bigint NOT NULL DEFAULT 0,
    prev_day      date,
    odometer_runs bigint,
    PRIMARY KEY (elevator_id, ts, seq)
);
CREATE INDEX counter_readings_day ON counter_readings (elevator_id, day);

-- Per device: distinct events, smallest and largest seq (seq gaps), the
-- latest event time (last_seen), and its span sums over all its readings
-- (for /metrics). The row is also the lock that orders the transactions
-- touching one elevator's readings.
CREATE TABLE device_telemetry (
    elevator_id      integer PRIMARY KEY,
    events           bigint NOT NULL,
    min_seq          bigint NOT NULL,
    max_seq          bigint NOT NULL,
    last_seen        timestamptz NOT NULL,
    pairs            bigint NOT NULL DEFAULT 0,
    resets           bigint NOT NULL DEFAULT 0,
    runs_reported    bigint NOT NULL DEFAULT 0,
    runs_by_odometer bigint NOT NULL DEFAULT 0
);
CREATE INDEX device_telemetry_last_seen ON device_telemetry (last_seen);

-- Counting the runs of one span of one elevator (kind 0 = run).
CREATE INDEX events_runs_by_time ON events (elevator_id, ts) WHERE kind = 0;

-- Events stored before this migration (kind 8 = counter). The zone of local
-- days is the recorded one (V6); a database without it has no events yet.
INSERT INTO counter_readings (elevator_id, ts, seq, runs_total, day, runs_in_span, prev_day, odometer_runs)
SELECT c.elevator_id, c.ts, c.seq, c.runs_total, (c.ts AT TIME ZONE z.value)::date,
       CASE WHEN c.prev_ts IS NULL THEN 0 ELSE (SELECT count(*) FROM events r WHERE r.elevator_id = c.elevator_id
            AND r.kind = 0 AND r.ts > c.prev_ts AND r.ts <= c.ts) END,
       (c.prev_ts AT TIME ZONE z.value)::date,
       CASE WHEN c.prev_total IS NOT NULL AND c.runs_total >= c.prev_total THEN c.runs_total - c.prev_total END
FROM (SELECT elevator_id, ts, seq, runs_total,
             lag(ts) OVER w AS prev_ts, lag(runs_total) OVER w AS prev_total
      FROM events WHERE kind = 8 AND runs_total IS NOT NULL
      WINDOW w AS (PARTITION BY elevator_id ORDER BY ts, seq)) c
CROSS JOIN liftwatch_settings z WHERE z.key = 'timezone';

INSERT INTO device_telemetry (elevator_id, events, min_seq, max_seq, last_seen)
SELECT elevator_id, count(*), min(seq), max(seq), max(ts) FROM events GROUP BY elevator_id;

UPDATE device_telemetry t SET pairs = s.pairs, resets = s.resets, runs_reported = s.reported, runs_by_odometer = s.odo
FROM (SELECT elevator_id, count(*) AS pairs, count(*) FILTER (WHERE odometer_runs IS NULL) AS resets,
             coalesce(sum(runs_in_span) FILTER (WHERE odometer_runs IS NOT NULL), 0) AS reported,
             coalesce(sum(odometer_runs), 0) AS odo
      FROM counter_readings WHERE prev_day IS NOT NULL GROUP BY elevator_id) s
WHERE s.elevator_id = t.elevator_id;
