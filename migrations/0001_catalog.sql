-- The catalog: publications, their subscription plans, and their issues.
-- Portable SQL for SQLite and PostgreSQL through sqlx's Any driver:
-- numbers are BIGINT (read as i64 on both), flags are BIGINT 0/1,
-- times are BIGINT Unix seconds, money is BIGINT minor units beside its currency.

CREATE TABLE publications (
    slug        TEXT PRIMARY KEY CHECK (slug <> ''),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('journal', 'newspaper')),
    frequency   TEXT NOT NULL CHECK (frequency IN ('monthly', 'quarterly')),
    tagline     TEXT NOT NULL,
    description TEXT NOT NULL,
    position    BIGINT NOT NULL DEFAULT 0
);

-- The editions a publication is offered in (print, digital, or both).
CREATE TABLE publication_editions (
    publication TEXT NOT NULL REFERENCES publications (slug) ON DELETE CASCADE,
    edition     TEXT NOT NULL CHECK (edition IN ('print', 'digital')),
    PRIMARY KEY (publication, edition)
);

-- A prepaid subscription term; sku is `{publication}-{edition}-{n}y`.
CREATE TABLE plans (
    sku          TEXT PRIMARY KEY,
    publication  TEXT NOT NULL,
    edition      TEXT NOT NULL,
    term_years   BIGINT NOT NULL CHECK (term_years IN (1, 2, 4)),
    price_amount BIGINT NOT NULL CHECK (price_amount > 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    active       BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    UNIQUE (publication, edition, term_years),
    FOREIGN KEY (publication, edition) REFERENCES publication_editions (publication, edition)
);

-- One issue of a publication; sku is `{publication}-{yyyy}-{mm}`, which is also
-- the SKU of the single back issue when price_amount is set.
CREATE TABLE issues (
    sku          TEXT PRIMARY KEY,
    publication  TEXT NOT NULL REFERENCES publications (slug),
    year         BIGINT NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    month        BIGINT NOT NULL CHECK (month BETWEEN 1 AND 12),
    title        TEXT NOT NULL,
    summary      TEXT NOT NULL,
    cover_image  TEXT,            -- storage key of an uploaded cover; NULL: the shop draws one
    pdf_file     TEXT,            -- storage key of the digital edition's PDF
    price_amount BIGINT CHECK (price_amount > 0), -- single-copy price; NULL: not sold singly
    currency     TEXT NOT NULL CHECK (length(currency) = 3),
    published    BIGINT NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
    published_at BIGINT,          -- Unix seconds
    is_sample    BIGINT NOT NULL DEFAULT 0 CHECK (is_sample IN (0, 1)),
    UNIQUE (publication, year, month)
);

CREATE INDEX issues_published ON issues (published, year, month);

-- The table of contents of an issue, in reading order.
CREATE TABLE articles (
    issue_sku TEXT NOT NULL REFERENCES issues (sku) ON DELETE CASCADE,
    position  BIGINT NOT NULL,
    section   TEXT,
    title     TEXT NOT NULL,
    author    TEXT NOT NULL,
    PRIMARY KEY (issue_sku, position)
);
