-- Backtests saved from the dashboard to reopen later, SQLite flavour (same table as the
-- PostgreSQL one), and an index for filtering the history by kind.
-- The request and summary are JSON TEXT the store does not interpret (so any money in them is
-- exact decimal text, never a decimal or floating affinity); timestamps RFC 3339 TEXT.

CREATE TABLE saved_backtests (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    request  TEXT NOT NULL,
    summary  TEXT NOT NULL
);

CREATE INDEX saved_backtests_saved_at ON saved_backtests (saved_at);

CREATE INDEX history_kind ON history (kind);
