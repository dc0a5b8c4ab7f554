-- Orders taken by staff (by post, at meetings): how they were paid, an invoice's due date, why a
-- subscription was given free, and the form's one-time token, so a form sent twice places one order.
ALTER TABLE orders ADD COLUMN payment_method TEXT
    CHECK (payment_method IN ('cash', 'cheque', 'bank_transfer', 'invoice', 'complimentary'));
ALTER TABLE orders ADD COLUMN invoice_due BIGINT;
ALTER TABLE orders ADD COLUMN complimentary_reason TEXT;
ALTER TABLE orders ADD COLUMN staff_request TEXT;
CREATE UNIQUE INDEX orders_staff_request ON orders (staff_request);
