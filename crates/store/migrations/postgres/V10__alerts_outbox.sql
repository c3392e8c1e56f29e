-- Alerts (issue 10): webhook subscriptions and the durable outbox of finding
-- events. The rule engine inserts an outbox row (and one delivery per target)
-- in the transaction that changes a finding; a dispatcher leases due
-- deliveries, sends them and marks them delivered.

-- Each caller (the regulator, or a firm) has its own namespace of ids.
CREATE TABLE webhooks (
    key         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text NOT NULL,
    url         text NOT NULL,
    secret      text NOT NULL,
    firm_id     text REFERENCES firms (id),
    actions     text[],
    owner       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, id)
);

CREATE TABLE alert_outbox (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id      text NOT NULL UNIQUE,
    kind        text NOT NULL,
    subject     text NOT NULL,
    firm_id     text,
    action      text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- One row per (event, target). target_key is 'webhook:<key>' or 'mqtt'.
CREATE TABLE alert_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_seq      bigint NOT NULL REFERENCES alert_outbox (seq) ON DELETE CASCADE,
    webhook_key     bigint REFERENCES webhooks (key) ON DELETE CASCADE,
    target_key      text NOT NULL,
    subject         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    lease_owner     text,
    delivered_at    timestamptz,
    last_error      text,
    UNIQUE (outbox_seq, target_key)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX alert_deliveries_subject ON alert_deliveries (target_key, subject, outbox_seq) WHERE delivered_at IS NULL;
