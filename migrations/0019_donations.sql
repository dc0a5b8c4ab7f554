-- A donation on top of what a cart buys: never discounted, its own line at Stripe and on the
-- receipt. orders.total stays the items' total after discount (its CHECK); what the reader pays is
-- total + postage + donation (read through `ORDER_COLUMNS`).
ALTER TABLE carts ADD COLUMN donation BIGINT NOT NULL DEFAULT 0 CHECK (donation >= 0);
ALTER TABLE orders ADD COLUMN donation BIGINT NOT NULL DEFAULT 0 CHECK (donation >= 0);
