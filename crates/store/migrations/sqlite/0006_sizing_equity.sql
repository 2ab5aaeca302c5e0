-- The equity each day's entries are sized from, SQLite flavour: written once, by the first
-- trade job for that day, before it opens anything. A resumed or concurrent job for the same
-- day reads it back instead of marking an account its own opens have already changed, so
-- `size = "x%"` gives the same quantities whatever crashed or ran in parallel.
CREATE TABLE sizing_equity (
    day         TEXT PRIMARY KEY,
    equity      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
