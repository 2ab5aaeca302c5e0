-- The equity each day's entries are sized from, PostgreSQL flavour (same table as the SQLite
-- one): written once, by the first trade job for that day, before it opens anything. A resumed
-- or concurrent job for the same day reads it back instead of marking an account its own opens
-- have already changed.
CREATE TABLE sizing_equity (
    day         DATE        PRIMARY KEY,
    equity      NUMERIC     NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
