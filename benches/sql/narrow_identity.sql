-- Issue 13 item 4: would a compact identity log (runs kept only as
-- (elevator_id, seq, ts) beside the rollups) beat the full event row?
-- The same as insert_variants.sql (200,000 new rows in 20 batches from a
-- staging table into hypertables already holding 500,000 rows), comparing
-- the store's full row (ev_store) with a narrow identity row (ev_narrow),
-- both INSERT … ON CONFLICT DO NOTHING RETURNING under a unique
-- (elevator_id, seq, ts) index, each run twice (the first pass also pays
-- chunk creation).
--
--   psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE lw_narrow"
--   psql -h 127.0.0.1 -U postgres -d lw_narrow -q -f benches/sql/narrow_identity.sql
--   psql -h 127.0.0.1 -U postgres -c "DROP DATABASE lw_narrow WITH (FORCE)"
--
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE OR REPLACE FUNCTION gen(m0 int, m1 int) RETURNS TABLE (elevator_id int, seq bigint, ts timestamptz, kind smallint, ts_offset int, end_ts timestamptz, floor_from int, floor_to int, doors int)
LANGUAGE sql AS $$
  SELECT (m % 1000) + 1, 1000 + (m / 1000) * 100 + j,
         timestamptz '2026-08-28 00:00:00+00' + ((m / 1000) * 100 + j) * interval '7776 s' + (m % 1000) * interval '1009 ms',
         0::smallint, 28800,
         timestamptz '2026-08-28 00:00:00+00' + ((m / 1000) * 100 + j) * interval '7776 s' + (m % 1000) * interval '1009 ms' + interval '20 s',
         1 + j % 12, 1 + (j * 5 + 3) % 12, 1
  FROM generate_series(m0, m1 - 1) m, generate_series(0, 99) j $$;
DO $$
DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['ev_store','ev_narrow'] LOOP
    IF t = 'ev_narrow' THEN
      CREATE TABLE ev_narrow (elevator_id integer NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL);
      CREATE UNIQUE INDEX ON ev_narrow (elevator_id, seq, ts);
      PERFORM create_hypertable('ev_narrow', 'ts', chunk_time_interval => interval '1 day');
      INSERT INTO ev_narrow SELECT elevator_id, seq, ts FROM gen(0, 5000);
      CONTINUE;
    END IF;
    EXECUTE format('CREATE TABLE %I (elevator_id integer NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL, kind smallint NOT NULL,
      ts_offset integer NOT NULL, end_ts timestamptz, floor_from integer, floor_to integer, doors integer, ref text, code text,
      stops_service boolean, cause text, fault_ref text, mode text, runs_total bigint, received_at timestamptz NOT NULL DEFAULT now())', t);
    IF t <> 'ev_noidx' THEN EXECUTE format('CREATE UNIQUE INDEX ON %I (elevator_id, seq, ts)', t); END IF;
    PERFORM create_hypertable(t, 'ts', chunk_time_interval => interval '1 day');
    EXECUTE format('INSERT INTO %I (elevator_id, seq, ts, kind, ts_offset, end_ts, floor_from, floor_to, doors) SELECT * FROM gen(0, 5000)', t);
  END LOOP;
END $$;
CREATE TABLE stg AS SELECT * FROM gen(5000, 7000);
ANALYZE;
CHECKPOINT;
CREATE TEMP TABLE res (variant text, secs float8);
DO $$
DECLARE v text; b int; t0 timestamptz; tot float8; n bigint;
BEGIN
  FOREACH v IN ARRAY ARRAY['ev_store','ev_narrow','ev_store','ev_narrow'] LOOP
    tot := 0;
    FOR b IN 0..19 LOOP
      CREATE TEMP TABLE IF NOT EXISTS lw_staging (LIKE ev_store INCLUDING DEFAULTS);
      TRUNCATE lw_staging;
      INSERT INTO lw_staging (elevator_id, seq, ts, kind, ts_offset, end_ts, floor_from, floor_to, doors)
        SELECT * FROM stg WHERE (seq - 1000) / 100 * 1000 + elevator_id - 1 >= 5000 + b * 100
                            AND (seq - 1000) / 100 * 1000 + elevator_id - 1 < 5100 + b * 100;
      t0 := clock_timestamp();
      IF v = 'ev_store' THEN
        EXECUTE format('WITH i AS (INSERT INTO %I SELECT * FROM lw_staging ORDER BY elevator_id, seq, ts ON CONFLICT DO NOTHING RETURNING elevator_id, seq, ts) SELECT count(*) FROM i', v) INTO n;
      ELSIF v = 'ev_narrow' THEN
        WITH i AS (INSERT INTO ev_narrow SELECT elevator_id, seq, ts FROM lw_staging ORDER BY elevator_id, seq, ts ON CONFLICT DO NOTHING RETURNING elevator_id, seq, ts) SELECT count(*) FROM i INTO n;
      ELSIF v = 'ev_noret' THEN
        EXECUTE format('INSERT INTO %I SELECT * FROM lw_staging ORDER BY elevator_id, seq, ts ON CONFLICT DO NOTHING', v);
      ELSE
        EXECUTE format('INSERT INTO %I SELECT * FROM lw_staging ORDER BY elevator_id, seq, ts', v);
      END IF;
      tot := tot + extract(epoch from clock_timestamp() - t0);
    END LOOP;
    INSERT INTO res VALUES (v, tot);
  END LOOP;
END $$;
SELECT variant, round(secs::numeric, 3) AS secs_200k, round((200000 / secs)::numeric) AS rows_per_s FROM res;
