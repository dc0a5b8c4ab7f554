-- A subscription put in the cart from the reader's account renews their running term: 1.
ALTER TABLE cart_items ADD COLUMN renewal BIGINT NOT NULL DEFAULT 0;
