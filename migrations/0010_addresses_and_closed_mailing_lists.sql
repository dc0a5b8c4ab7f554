-- Closing an issue's mailing list fixes it: its copies are written here once and read from here
-- ever after, whatever changes later (addresses, new subscriptions, cancellations).
CREATE TABLE mailing_list_closures (
    issue_sku   TEXT PRIMARY KEY REFERENCES issues (sku),
    publication TEXT NOT NULL REFERENCES publications (slug),
    period      BIGINT NOT NULL,
    closed_at   BIGINT NOT NULL,
    closed_by   TEXT NOT NULL
);

CREATE INDEX mailing_list_closures_publication ON mailing_list_closures (publication, period);

CREATE TABLE mailing_list_copies (
    issue_sku       TEXT NOT NULL REFERENCES mailing_list_closures (issue_sku),
    position        BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    copies          BIGINT NOT NULL CHECK (copies > 0),
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    line1           TEXT,
    line2           TEXT,
    city            TEXT,
    region          TEXT,
    postal_code     TEXT,
    country         TEXT,
    order_id        TEXT NOT NULL,
    subscription_id TEXT,
    PRIMARY KEY (issue_sku, position)
);

CREATE INDEX mailing_list_copies_order ON mailing_list_copies (order_id);

-- A print subscription's address from an issue on (`from_period`), until a later row's. The
-- address given at checkout stays on the subscription and applies before the first row.
CREATE TABLE subscription_addresses (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    from_period     BIGINT NOT NULL,
    line1           TEXT NOT NULL,
    line2           TEXT,
    city            TEXT NOT NULL,
    region          TEXT,
    postal_code     TEXT NOT NULL,
    country         TEXT NOT NULL,
    changed_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, from_period)
);
