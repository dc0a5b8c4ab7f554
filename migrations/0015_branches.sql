-- Local branches that sell the paper: their standing orders (copies of every issue at a price per
-- copy, from an issue, to an issue or open-ended), a changed draw, returns and shortages of one
-- issue, and payments received. A branch statement is computed from these; bundles count in the
-- print run.
CREATE TABLE branches (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    city          TEXT NOT NULL,
    meeting_place TEXT,
    contact       TEXT NOT NULL,
    address       TEXT,
    listed        BIGINT NOT NULL DEFAULT 0 CHECK (listed IN (0, 1)),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE standing_orders (
    id             TEXT PRIMARY KEY,
    branch_id      TEXT NOT NULL REFERENCES branches (id),
    publication    TEXT NOT NULL REFERENCES publications (slug),
    copies         BIGINT NOT NULL CHECK (copies > 0),
    price_per_copy BIGINT NOT NULL CHECK (price_per_copy >= 0),
    from_period    BIGINT NOT NULL,
    to_period      BIGINT,
    created_at     BIGINT NOT NULL,
    CHECK (to_period IS NULL OR to_period >= from_period)
);

CREATE INDEX standing_orders_branch ON standing_orders (branch_id, publication);

CREATE TABLE branch_issues (
    branch_id   TEXT NOT NULL REFERENCES branches (id),
    publication TEXT NOT NULL REFERENCES publications (slug),
    period      BIGINT NOT NULL,
    copies      BIGINT CHECK (copies >= 0),  -- this issue's draw, when changed from the standing orders'
    returned    BIGINT NOT NULL DEFAULT 0 CHECK (returned >= 0),
    short       BIGINT NOT NULL DEFAULT 0 CHECK (short >= 0),
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (branch_id, publication, period)
);

CREATE TABLE branch_payments (
    id          TEXT PRIMARY KEY,
    branch_id   TEXT NOT NULL REFERENCES branches (id),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    received_on BIGINT NOT NULL,
    reference   TEXT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX branch_payments_branch ON branch_payments (branch_id, received_on);
