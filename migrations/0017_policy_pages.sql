-- The shop's policy pages (contact, shipping, refunds, privacy, terms), written by staff in
-- Markdown. An empty body means the page is not shown or linked anywhere.
CREATE TABLE policy_pages (
    slug TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
