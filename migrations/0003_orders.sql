-- Orders, what fulfilling them creates, the coupon redemptions they hold, Stripe's events and the email outbox.
-- Everything that must happen once is guarded here: a conditional update of orders.status,
-- unique keys on what fulfilment creates, the event ids Stripe sends.

CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,
    cart_id             TEXT,            -- the cart it was priced from (emptied when paid)
    email               TEXT NOT NULL,
    email_normalized    TEXT NOT NULL,
    name                TEXT NOT NULL,
    ship_line1          TEXT,
    ship_line2          TEXT,
    ship_city           TEXT,
    ship_region         TEXT,
    ship_postal_code    TEXT,
    ship_country        TEXT,
    currency            TEXT NOT NULL CHECK (length(currency) = 3),
    subtotal            BIGINT NOT NULL CHECK (subtotal >= 0),
    discount            BIGINT NOT NULL CHECK (discount >= 0),
    total               BIGINT NOT NULL CHECK (total >= 0),
    coupon_id           TEXT REFERENCES coupons (id),
    coupon_code         TEXT,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'review', 'refunded')),
    provider            TEXT NOT NULL CHECK (provider IN ('stripe', 'test', 'none')),
    provider_session_id TEXT UNIQUE,
    payment_url         TEXT,
    payment_reference   TEXT,
    review_reason       TEXT,
    failure_reason      TEXT,
    expires_at          BIGINT NOT NULL,  -- when its checkout session expires (Unix seconds)
    created_at          BIGINT NOT NULL,
    paid_at             BIGINT,
    closed_at           BIGINT,
    CHECK (total = subtotal - discount)
);

CREATE INDEX orders_status_expires ON orders (status, expires_at);
CREATE INDEX orders_email ON orders (email_normalized);

-- The order's lines as priced at checkout: a snapshot, whatever the cart does afterwards.
CREATE TABLE order_lines (
    order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('subscription', 'issue')),
    publication TEXT NOT NULL,
    edition     TEXT NOT NULL CHECK (edition IN ('print', 'digital')),
    term_years  BIGINT,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    unit_price  BIGINT NOT NULL CHECK (unit_price >= 0),
    line_total  BIGINT NOT NULL CHECK (line_total >= 0),
    discount    BIGINT NOT NULL CHECK (discount >= 0 AND discount <= line_total),
    PRIMARY KEY (order_id, position)
);

-- A coupon's use by an order: reserved at checkout, final when paid, released when the checkout fails.
CREATE TABLE coupon_redemptions (
    order_id         TEXT PRIMARY KEY REFERENCES orders (id),
    coupon_id        TEXT NOT NULL REFERENCES coupons (id),
    email_normalized TEXT NOT NULL,
    amount_saved     BIGINT NOT NULL CHECK (amount_saved >= 0),
    status           TEXT NOT NULL CHECK (status IN ('reserved', 'final', 'released')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id, email_normalized, status);

-- Issue periods are `year * 12 + month - 1`, so a term is a range of integers.
CREATE TABLE subscriptions (
    id               TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL REFERENCES orders (id),
    order_position   BIGINT NOT NULL,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    name             TEXT NOT NULL,
    publication      TEXT NOT NULL REFERENCES publications (slug),
    edition          TEXT NOT NULL CHECK (edition IN ('print', 'digital')),
    term_years       BIGINT NOT NULL,
    first_period     BIGINT NOT NULL,
    last_period      BIGINT NOT NULL,
    ship_line1       TEXT,
    ship_line2       TEXT,
    ship_city        TEXT,
    ship_region      TEXT,
    ship_postal_code TEXT,
    ship_country     TEXT,
    status           TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    created_at       BIGINT NOT NULL,
    UNIQUE (order_id, order_position),
    CHECK (last_period >= first_period)
);

CREATE INDEX subscriptions_reader ON subscriptions (email_normalized, publication, edition);
CREATE INDEX subscriptions_term ON subscriptions (publication, edition, first_period, last_period);

-- Single copies bought: print copies to mail, digital ones to unlock.
CREATE TABLE order_items (
    order_id       TEXT NOT NULL REFERENCES orders (id),
    order_position BIGINT NOT NULL,
    issue_sku      TEXT NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    action         TEXT NOT NULL CHECK (action IN ('ship', 'unlock')),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (order_id, order_position)
);

-- Stripe events already processed; a redelivery is answered 200 and changes nothing.
CREATE TABLE payment_events (
    event_id     TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    order_id     TEXT,
    processed_at BIGINT NOT NULL
);

-- Email waits here, written in the same transaction as the change it reports; a worker delivers it.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    order_id        TEXT,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    UNIQUE (order_id, kind)
);

CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
