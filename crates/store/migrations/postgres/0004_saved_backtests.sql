-- Backtests saved from the dashboard to reopen later, PostgreSQL flavour (same table as the
-- SQLite one), and an index for filtering the history by kind.
-- The request and summary are JSON TEXT the store does not interpret; timestamps TIMESTAMPTZ.

CREATE TABLE saved_backtests (
    id       BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     TEXT        NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL,
    request  TEXT        NOT NULL,
    summary  TEXT        NOT NULL
);

CREATE INDEX saved_backtests_saved_at ON saved_backtests (saved_at);

CREATE INDEX history_kind ON history (kind);
