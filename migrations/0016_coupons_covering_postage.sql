-- A coupon may also cover postage: an order it is used on pays no postage (the waived amount is
-- kept on the order).
ALTER TABLE coupons ADD COLUMN covers_postage BIGINT NOT NULL DEFAULT 0 CHECK (covers_postage IN (0, 1));
ALTER TABLE orders ADD COLUMN postage_waived BIGINT NOT NULL DEFAULT 0 CHECK (postage_waived >= 0);
