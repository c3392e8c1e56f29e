-- Issue 9: an arrival stamped before its alarm (or a clearing before its
-- fault start) never counts; it is kept, flagged, for audit. The record keeps
-- the reported times (core::incident::join_times: sorted, at most 16) so that
-- the later start picks the right one in any arrival order; `arrived_at` /
-- `cleared_at` stay the one that counts (earliest at or after the start).
ALTER TABLE entrapments ADD COLUMN arrivals timestamptz[] NOT NULL DEFAULT '{}';
ALTER TABLE entrapments ADD COLUMN early_arrival_at timestamptz;
ALTER TABLE faults ADD COLUMN clearings timestamptz[] NOT NULL DEFAULT '{}';
ALTER TABLE faults ADD COLUMN early_cleared_at timestamptz;

UPDATE entrapments SET arrivals = ARRAY[arrived_at] WHERE arrived_at IS NOT NULL;
UPDATE faults SET clearings = ARRAY[cleared_at] WHERE cleared_at IS NOT NULL;

-- Rows stored under the old rule with an early arrival/clearing counted it as
-- a 0-minute rescue / closed stoppage: undo that in the rollups (the duration
-- was clamped to 0, so only the counts move) and flag the time.
UPDATE rollups r SET rescues = r.rescues - x.n, awaiting_arrival = r.awaiting_arrival + x.n
FROM (SELECT elevator_id, alarm_day, count(*) AS n FROM entrapments
      WHERE arrived_at < alarm_ts AND alarm_day IS NOT NULL GROUP BY 1, 2) x
WHERE r.elevator_id = x.elevator_id AND r.day = x.alarm_day;
UPDATE entrapments SET early_arrival_at = arrived_at, arrived_at = NULL
WHERE arrived_at < alarm_ts AND alarm_day IS NOT NULL;

UPDATE rollups r SET stoppages_closed = r.stoppages_closed - x.n, stoppages_open = r.stoppages_open + x.n
FROM (SELECT elevator_id, start_day, count(*) AS n FROM faults
      WHERE cleared_at < start_ts AND stops_service AND cause = 'equipment' AND start_day IS NOT NULL
      GROUP BY 1, 2) x
WHERE r.elevator_id = x.elevator_id AND r.day = x.start_day;
UPDATE faults SET early_cleared_at = cleared_at, cleared_at = NULL
WHERE cleared_at < start_ts AND start_day IS NOT NULL;
