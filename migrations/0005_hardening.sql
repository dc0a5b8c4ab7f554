-- Guessing limits counted and recorded in one statement, and one row per reader for the
-- checkouts and settlements of one email to take turns on.

-- One row per kind of limit and key (a cart, an address, an account): the failures within the
-- window that started at `window_start`. An upsert increments and returns the count at once, so
-- N failures at once can never all see a count below the limit.
CREATE TABLE attempt_counts (
    kind         TEXT NOT NULL,
    limiter_key  TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL CHECK (failures >= 0),
    PRIMARY KEY (kind, limiter_key)
);

CREATE INDEX attempt_counts_window ON attempt_counts (window_start);

DROP TABLE coupon_failures;
DROP TABLE login_failures;

-- A reader, by normalised email. A checkout or a settlement for an email first touches its row,
-- which on PostgreSQL holds the row's lock until it commits: "new subscribers only" and the
-- extension of a running term are then judged one transaction at a time for each reader.
CREATE TABLE readers (
    email_normalized TEXT PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
