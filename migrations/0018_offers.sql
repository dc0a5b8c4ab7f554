-- An offer page for a coupon staff choose to publish: /offers/{slug}, with a headline and a text
-- in Markdown. Its link keeps working after the coupon ends (the page then says so).
CREATE TABLE offers (
    coupon_id TEXT PRIMARY KEY REFERENCES coupons (id),
    slug TEXT NOT NULL UNIQUE,
    headline TEXT NOT NULL,
    body TEXT NOT NULL,
    published BIGINT NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
    updated_at BIGINT NOT NULL
);
