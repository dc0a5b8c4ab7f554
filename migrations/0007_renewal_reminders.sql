-- Renewal reminders, one row per subscription and kind: the row is the claim, so however many
-- instances run the reminder job at once, each reminder is written to the outbox once.
CREATE TABLE renewal_reminders (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    kind            TEXT NOT NULL CHECK (kind IN ('30_days', '7_days')),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, kind)
);
