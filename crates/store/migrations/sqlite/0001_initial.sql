-- Barter's initial schema, SQLite flavour.
-- Money, prices and volumes are TEXT: SQLite has no decimal type, and NUMERIC/REAL affinity would
-- silently turn them into doubles. Days are TEXT 'YYYY-MM-DD', timestamps RFC 3339 TEXT.

CREATE TABLE instruments (
    symbol         TEXT    NOT NULL PRIMARY KEY,
    name           TEXT    NOT NULL,
    quote_currency TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    source_id      TEXT    NOT NULL,
    calendar       TEXT    NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at     TEXT    NOT NULL,
    -- Summary of the instrument's candles, kept by write_candles in the same transaction,
    -- so coverage, gap checks and the next sync's start day cost one row read.
    first_day         TEXT,
    last_day          TEXT,
    last_complete_day TEXT,
    candle_count      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE candles (
    symbol     TEXT    NOT NULL REFERENCES instruments (symbol) ON DELETE CASCADE,
    day        TEXT    NOT NULL,
    open       TEXT    NOT NULL,
    high       TEXT    NOT NULL,
    low        TEXT    NOT NULL,
    close      TEXT    NOT NULL,
    volume     TEXT    NOT NULL,
    complete   BOOLEAN NOT NULL CHECK (complete IN (0, 1)),
    origin     TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (symbol, day)
) WITHOUT ROWID;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    counts      TEXT NOT NULL DEFAULT '{}',
    errors      TEXT NOT NULL DEFAULT '[]',
    report      TEXT
);

-- Append-only log of what was synced; kept when its run or instrument is removed.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    recorded_at TEXT NOT NULL,
    kind        TEXT NOT NULL,
    symbol      TEXT,
    detail      TEXT NOT NULL
);

CREATE INDEX history_run_id ON history (run_id);
