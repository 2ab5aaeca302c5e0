-- Dashboard sessions, SQLite flavour (same table as the PostgreSQL one): kept in the database so
-- a signed-in browser stays signed in across restarts and on every server sharing it.
-- Only the SHA-256 of a session's id is stored (64 lowercase hex characters): the cookie carries
-- the id itself, so a copy of this table opens no session. The CSRF token is derived from the id
-- and stored nowhere. Timestamps are RFC 3339 TEXT, compared as text like every other here.
CREATE TABLE dashboard_sessions (
    id_hash    TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Expired sessions are deleted by expiry, and the oldest end first when there are too many.
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_created_at ON dashboard_sessions (created_at);
