-- Coupons and carts. The session holds only a cart's id; lines and coupon are rows here,
-- so two requests at once (two tabs, a double click) can never undo each other.

CREATE TABLE coupons (
    id                   TEXT PRIMARY KEY,
    code                 TEXT NOT NULL,           -- as staff typed it: "FTR 2016"
    normalized_code      TEXT NOT NULL UNIQUE,    -- upper case, no spaces or hyphens: "FTR2016"
    description          TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_bp           BIGINT,                  -- hundredths of a percent: 5000 is 50%, 3333 is 33.33%
    amount_off           BIGINT,                  -- minor units, for a fixed discount
    currency             TEXT NOT NULL CHECK (length(currency) = 3), -- of amount_off and min_subtotal
    applies_to           TEXT NOT NULL CHECK (applies_to IN ('everything', 'subscriptions', 'single_issues', 'publications', 'skus')),
    new_subscribers_only BIGINT NOT NULL DEFAULT 0 CHECK (new_subscribers_only IN (0, 1)),
    starts_at            BIGINT,                  -- Unix seconds
    ends_at              BIGINT,
    max_redemptions      BIGINT CHECK (max_redemptions > 0),
    redemptions_used     BIGINT NOT NULL DEFAULT 0 CHECK (redemptions_used >= 0),
    per_customer_limit   BIGINT CHECK (per_customer_limit > 0),
    min_subtotal         BIGINT CHECK (min_subtotal > 0),
    active               BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at           BIGINT NOT NULL,
    CHECK ((kind = 'percent' AND percent_bp BETWEEN 1 AND 10000 AND amount_off IS NULL)
        OR (kind = 'fixed' AND amount_off > 0 AND percent_bp IS NULL)),
    CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at),
    CHECK (max_redemptions IS NULL OR redemptions_used <= max_redemptions)
);

-- The publications (slugs) or SKUs a coupon is limited to, when applies_to says so.
CREATE TABLE coupon_targets (
    coupon_id TEXT NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    target    TEXT NOT NULL,
    PRIMARY KEY (coupon_id, target)
);

CREATE TABLE carts (
    id         TEXT PRIMARY KEY,
    coupon_id  TEXT REFERENCES coupons (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX carts_updated_at ON carts (updated_at);

CREATE TABLE cart_items (
    cart_id   TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku       TEXT NOT NULL,
    quantity  BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    -- `{publication}-{edition}` for a subscription plan, NULL for a single issue: one plan per
    -- edition of a publication in a cart, enforced here whatever requests race.
    plan_slot TEXT,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (cart_id, sku),
    UNIQUE (cart_id, plan_slot),
    CHECK (plan_slot IS NULL OR quantity = 1)
);

-- Failed coupon codes, to slow down guessing (per session and per address).
CREATE TABLE coupon_failures (
    limiter_key TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);

CREATE INDEX coupon_failures_key ON coupon_failures (limiter_key, failed_at);
