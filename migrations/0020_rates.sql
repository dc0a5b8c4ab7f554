-- Rates beside a plan's standard price: a reduced rate on the honour system, in the publisher's
-- wording ("low income, student, unwaged"), and a sustainer rate (a suggested amount; the reader may
-- pay anything from the minimum up). NULL: the plan has no such rate.
ALTER TABLE plans ADD COLUMN reduced_price BIGINT CHECK (reduced_price > 0);
ALTER TABLE plans ADD COLUMN reduced_wording TEXT;
ALTER TABLE plans ADD COLUMN sustainer_minimum BIGINT CHECK (sustainer_minimum > 0);
ALTER TABLE plans ADD COLUMN sustainer_suggested BIGINT CHECK (sustainer_suggested > 0);

-- The rate a cart line (and an order line) is at; a sustainer line keeps the amount the reader chose.
ALTER TABLE cart_items ADD COLUMN rate TEXT NOT NULL DEFAULT 'standard' CHECK (rate IN ('standard', 'reduced', 'sustainer'));
ALTER TABLE cart_items ADD COLUMN rate_amount BIGINT CHECK (rate_amount > 0);
ALTER TABLE order_lines ADD COLUMN rate TEXT NOT NULL DEFAULT 'standard' CHECK (rate IN ('standard', 'reduced', 'sustainer'));

-- Coupons apply to the standard rate only unless they say so.
ALTER TABLE coupons ADD COLUMN applies_to_reduced BIGINT NOT NULL DEFAULT 0 CHECK (applies_to_reduced IN (0, 1));
ALTER TABLE coupons ADD COLUMN applies_to_sustainer BIGINT NOT NULL DEFAULT 0 CHECK (applies_to_sustainer IN (0, 1));
