-- Bumped by every staff change: each instance polls it once a second and drops its cached pages
-- when it moves, so a change shows on every instance within a second.
CREATE TABLE content_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

INSERT INTO content_version (id, version) VALUES (1, 0);
