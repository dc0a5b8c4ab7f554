-- Staff, their sign-in failures, shop-wide settings and the audit log of every change made in the admin.

CREATE TABLE staff (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,          -- lower case
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    password_hash TEXT,                          -- argon2id PHC string; NULL until set
    totp_secret   TEXT,                          -- base32; NULL when no second factor is enrolled
    disabled      BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    BIGINT NOT NULL,
    last_sign_in  BIGINT
);

-- One-time links to set a password (printed by `masthead staff add` when no password is given).
CREATE TABLE staff_password_tokens (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE login_failures (
    limiter_key TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);

CREATE INDEX login_failures_key ON login_failures (limiter_key, failed_at);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    staff_id    TEXT,
    staff_email TEXT NOT NULL,
    action      TEXT NOT NULL,     -- coupon.create, issue.publish, order.refund, staff.disable, ...
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);

CREATE INDEX audit_log_at ON audit_log (at);
