-- Gift subscriptions. In a cart a gift is a row of its own (several gifts of one plan may sit
-- beside the buyer's own subscription); an order keeps each gift line's recipient; the
-- subscription belongs to the recipient and remembers who gave it.
CREATE TABLE cart_gifts (
    id                         TEXT PRIMARY KEY,
    cart_id                    TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku                        TEXT NOT NULL,
    rate                       TEXT NOT NULL DEFAULT 'standard' CHECK (rate IN ('standard', 'reduced', 'sustainer')),
    rate_amount                BIGINT CHECK (rate_amount > 0),
    recipient_name             TEXT NOT NULL CHECK (recipient_name <> ''),
    recipient_email            TEXT,            -- optional for print
    ship_line1                 TEXT,
    ship_line2                 TEXT,
    ship_city                  TEXT,
    ship_region                TEXT,
    ship_postal_code           TEXT,
    ship_country               TEXT,
    message                    TEXT,
    first_period               BIGINT,          -- NULL: the next issue
    notify                     TEXT NOT NULL CHECK (notify IN ('now', 'date', 'never')),
    notify_on                  BIGINT,          -- for 'date': the day (Unix seconds, midnight UTC)
    remind_recipient           BIGINT NOT NULL DEFAULT 0 CHECK (remind_recipient IN (0, 1)),
    added_at                   BIGINT NOT NULL,
    CHECK ((notify = 'date') = (notify_on IS NOT NULL))
);

CREATE INDEX cart_gifts_cart ON cart_gifts (cart_id);

CREATE TABLE order_gifts (
    order_id                   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position                   BIGINT NOT NULL,
    cart_gift_id               TEXT,            -- the cart row it came from, removed when paid
    recipient_name             TEXT NOT NULL,
    recipient_email            TEXT,
    ship_line1                 TEXT,
    ship_line2                 TEXT,
    ship_city                  TEXT,
    ship_region                TEXT,
    ship_postal_code           TEXT,
    ship_country               TEXT,
    message                    TEXT,
    first_period               BIGINT,
    notify                     TEXT NOT NULL CHECK (notify IN ('now', 'date', 'never')),
    notify_on                  BIGINT,
    remind_recipient           BIGINT NOT NULL DEFAULT 0 CHECK (remind_recipient IN (0, 1)),
    -- Postage for a print gift, to the recipient's country, as it was when the order was placed.
    postage                    BIGINT NOT NULL DEFAULT 0 CHECK (postage >= 0),
    postage_zone               TEXT,
    postage_copies             BIGINT NOT NULL DEFAULT 0,
    postage_per_copy           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, position)
);

-- What the reader pays is total + postage + gift_postage + donation (`ORDER_COLUMNS`).
ALTER TABLE orders ADD COLUMN gift_postage BIGINT NOT NULL DEFAULT 0 CHECK (gift_postage >= 0);

-- Whose new subscription a line is (the buyer's, or a gift's recipient's): "new subscribers
-- only" is judged by this reader. NULL: a recipient without an email, who cannot be looked up.
ALTER TABLE order_lines ADD COLUMN beneficiary TEXT;
UPDATE order_lines SET beneficiary = (SELECT email_normalized FROM orders WHERE orders.id = order_lines.order_id);

ALTER TABLE subscriptions ADD COLUMN gift_from_email TEXT;
ALTER TABLE subscriptions ADD COLUMN gift_from_email_normalized TEXT;
ALTER TABLE subscriptions ADD COLUMN gift_from_name TEXT;
ALTER TABLE subscriptions ADD COLUMN gift_remind_recipient BIGINT NOT NULL DEFAULT 0;
CREATE INDEX subscriptions_gift_from ON subscriptions (gift_from_email_normalized);
CREATE INDEX order_lines_beneficiary ON order_lines (beneficiary, publication);
