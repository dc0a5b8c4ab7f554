-- Postage for print copies: zones of countries, each with an amount per copy mailed (minor units of
-- the shop's currency). A country belongs to at most one zone (the primary key); one zone at most
-- may take every country no other zone lists. A country in no zone cannot be sent print.
CREATE TABLE postage_zones (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    per_copy            BIGINT NOT NULL CHECK (per_copy >= 0),
    every_other_country BIGINT NOT NULL DEFAULT 0 CHECK (every_other_country IN (0, 1)),
    position            BIGINT NOT NULL DEFAULT 0,
    updated_at          BIGINT NOT NULL
);

CREATE UNIQUE INDEX postage_zones_one_catch_all ON postage_zones (every_other_country) WHERE every_other_country = 1;

CREATE TABLE postage_zone_countries (
    country TEXT PRIMARY KEY CHECK (length(country) = 2),
    zone_id TEXT NOT NULL REFERENCES postage_zones (id) ON DELETE CASCADE
);

CREATE INDEX postage_zone_countries_zone ON postage_zone_countries (zone_id);

-- The demo shop's zones (staff change them in the admin): the United States and its territories
-- free, Canada and Mexico $1.50 a copy, everywhere else $3.00.
INSERT INTO postage_zones (id, name, per_copy, every_other_country, position, updated_at) VALUES
    ('united-states', 'United States', 0, 0, 1, 0),
    ('canada-mexico', 'Canada and Mexico', 150, 0, 2, 0),
    ('rest-of-world', 'Rest of the world', 300, 1, 3, 0);
INSERT INTO postage_zone_countries (country, zone_id) VALUES
    ('US', 'united-states'), ('PR', 'united-states'), ('GU', 'united-states'), ('VI', 'united-states'),
    ('AS', 'united-states'), ('MP', 'united-states'),
    ('CA', 'canada-mexico'), ('MX', 'canada-mexico');

-- An order's postage, as it was when the order was placed: changing a zone later changes no order.
-- orders.total stays the items' total after discount (its CHECK: total = subtotal - discount); what
-- the reader pays is total + postage (the shop reads orders through one column list that adds them).
ALTER TABLE orders ADD COLUMN postage BIGINT NOT NULL DEFAULT 0 CHECK (postage >= 0);
ALTER TABLE orders ADD COLUMN postage_zone TEXT;
ALTER TABLE orders ADD COLUMN postage_copies BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN postage_per_copy BIGINT NOT NULL DEFAULT 0;
