-- Barter's initial schema, PostgreSQL flavour (same tables and columns as the SQLite one).
-- Money, prices and volumes are NUMERIC (exact), days DATE, timestamps TIMESTAMPTZ.

CREATE TABLE instruments (
    symbol         TEXT        NOT NULL PRIMARY KEY,
    name           TEXT        NOT NULL,
    quote_currency TEXT        NOT NULL,
    source         TEXT        NOT NULL,
    source_id      TEXT        NOT NULL,
    calendar       TEXT        NOT NULL,
    active         BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL,
    -- Summary of the instrument's candles, kept by write_candles in the same transaction,
    -- so coverage, gap checks and the next sync's start day cost one row read.
    first_day         DATE,
    last_day          DATE,
    last_complete_day DATE,
    candle_count      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE candles (
    symbol     TEXT        NOT NULL REFERENCES instruments (symbol) ON DELETE CASCADE,
    day        DATE        NOT NULL,
    open       NUMERIC     NOT NULL,
    high       NUMERIC     NOT NULL,
    low        NUMERIC     NOT NULL,
    close      NUMERIC     NOT NULL,
    volume     NUMERIC     NOT NULL,
    complete   BOOLEAN     NOT NULL,
    origin     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (symbol, day)
);

CREATE TABLE runs (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      TEXT        NOT NULL,
    counts      TEXT        NOT NULL DEFAULT '{}',
    errors      TEXT        NOT NULL DEFAULT '[]',
    report      TEXT
);

-- Append-only log of what was synced; kept when its run or instrument is removed.
CREATE TABLE history (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT      REFERENCES runs (id) ON DELETE SET NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    kind        TEXT        NOT NULL,
    symbol      TEXT,
    detail      TEXT        NOT NULL
);

CREATE INDEX history_run_id ON history (run_id);
