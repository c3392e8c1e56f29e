-- Who reported the arrival that counts (the earliest): 'box', or the API
-- caller (`firm:{id}` / `regulator`), so regulators can audit rescue times.
ALTER TABLE entrapments ADD COLUMN arrival_reported_by text;
