-- Readers sign in by a link sent to their email: one row per link, only the token's hash kept.
CREATE TABLE sign_in_links (
    token_hash       TEXT PRIMARY KEY,         -- SHA-256 of the token, hex
    email_normalized TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT                    -- set once: by signing in, or by a newer link
);

CREATE INDEX sign_in_links_email ON sign_in_links (email_normalized, used_at);
