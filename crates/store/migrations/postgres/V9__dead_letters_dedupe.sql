-- Dead letters (issue 9, items 6, 9 and 15): the same message redelivered is
-- kept once, an oversize payload is kept truncated with its original size,
-- and retention/size pruning needs the time a row was last seen.
--
-- dedupe_key = sha256(topic, reason code, whole payload) (computed by the
-- store on insert); rows written before this migration get a key of their
-- own (their id), so they never merge.
ALTER TABLE dead_letters
    ADD COLUMN dedupe_key    bytea,
    ADD COLUMN payload_bytes bigint,
    ADD COLUMN seen_count    bigint NOT NULL DEFAULT 1,
    ADD COLUMN last_seen_at  timestamptz;

UPDATE dead_letters
   SET dedupe_key = sha256(convert_to('legacy:' || id::text, 'UTF8')),
       payload_bytes = octet_length(payload),
       last_seen_at = received_at;

ALTER TABLE dead_letters
    ALTER COLUMN dedupe_key SET NOT NULL,
    ALTER COLUMN payload_bytes SET NOT NULL,
    ALTER COLUMN last_seen_at SET NOT NULL;

-- One pending row per (topic, reason code, payload); a replayed row no
-- longer takes part, so a replay that fails again keeps a new pending row.
CREATE UNIQUE INDEX dead_letters_dedupe ON dead_letters (dedupe_key) WHERE replayed_at IS NULL;
-- Pruning by age.
CREATE INDEX dead_letters_last_seen ON dead_letters (last_seen_at);
