-- Where an order came from: the shop's checkout, the import of a publisher's existing subscriber
-- list (one order per imported subscription, nothing paid through the shop), or staff (orders
-- taken by post and at meetings). Staff notes travel with it.
ALTER TABLE orders ADD COLUMN source TEXT NOT NULL DEFAULT 'checkout' CHECK (source IN ('checkout', 'import', 'staff'));
ALTER TABLE orders ADD COLUMN notes TEXT;
-- An imported subscription's key in the publisher's previous records (their id, or email +
-- publication + edition): importing the same row again finds it here and changes nothing.
ALTER TABLE orders ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX orders_import_key ON orders (import_key);
