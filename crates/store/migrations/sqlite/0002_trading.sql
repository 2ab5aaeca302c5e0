-- The trading ledger, SQLite flavour: the paper account, decisions keyed by decision day,
-- positions, fills, and strategy/position columns on the append-only history.
-- Money, prices and quantities are exact decimal TEXT (never a decimal or floating affinity);
-- days are TEXT 'YYYY-MM-DD', timestamps RFC 3339 TEXT.

-- The single paper account (id is always 1).
CREATE TABLE account (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    initial_cash TEXT NOT NULL,
    cash         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- One long position of one strategy in one instrument; closed in place, never deleted.
CREATE TABLE positions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy     TEXT NOT NULL,
    symbol       TEXT NOT NULL REFERENCES instruments (symbol),
    quantity     TEXT NOT NULL,
    entry_price  TEXT NOT NULL,
    entry_day    TEXT NOT NULL,
    entry_fee    TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    exit_price   TEXT,
    exit_day     TEXT,
    exit_fee     TEXT,
    exit_reason  TEXT,
    realized_pnl TEXT,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT,
    CHECK (
        (status = 'open' AND exit_price IS NULL AND exit_day IS NULL AND exit_fee IS NULL
            AND exit_reason IS NULL AND realized_pnl IS NULL AND closed_at IS NULL)
        OR (status = 'closed' AND exit_price IS NOT NULL AND exit_day IS NOT NULL
            AND exit_fee IS NOT NULL AND exit_reason IS NOT NULL AND realized_pnl IS NOT NULL
            AND closed_at IS NOT NULL)
    )
);

-- At most one open position per strategy and instrument, enforced by the database.
CREATE UNIQUE INDEX positions_one_open ON positions (strategy, symbol) WHERE status = 'open';

-- What each strategy decided for each instrument on each decision day: at most one entry and
-- one exit decision per (strategy, symbol, day), so a job rerun for the same day writes nothing.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    strategy    TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    day         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('entry', 'exit')),
    outcome     TEXT NOT NULL
        CHECK (outcome IN ('passed', 'failed', 'not_ready', 'skipped', 'refused')),
    position_id INTEGER REFERENCES positions (id),
    detail      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (strategy, symbol, day, kind)
);

CREATE INDEX decisions_symbol ON decisions (symbol, day);
CREATE INDEX decisions_position ON decisions (position_id);

-- Every executed order; a position has its opening fill and, once closed, its closing fill.
CREATE TABLE fills (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    position_id INTEGER NOT NULL REFERENCES positions (id),
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    symbol      TEXT NOT NULL,
    day         TEXT NOT NULL,
    price       TEXT NOT NULL,
    basis       TEXT NOT NULL,
    quantity    TEXT NOT NULL,
    gross       TEXT NOT NULL,
    fee         TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

CREATE INDEX fills_position ON fills (position_id);

ALTER TABLE history ADD COLUMN strategy TEXT;
ALTER TABLE history ADD COLUMN position_id INTEGER REFERENCES positions (id);

CREATE INDEX history_symbol ON history (symbol);
CREATE INDEX history_strategy ON history (strategy);
CREATE INDEX history_recorded_at ON history (recorded_at);
CREATE INDEX history_position ON history (position_id);

-- History and decisions are append-only: rows are never changed or removed (only run_id may be
-- cleared, by ON DELETE SET NULL when a run is deleted).
CREATE TRIGGER history_never_changes
BEFORE UPDATE OF id, recorded_at, kind, symbol, detail, strategy, position_id ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

CREATE TRIGGER history_never_shrinks BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

CREATE TRIGGER decisions_never_change
BEFORE UPDATE OF id, strategy, symbol, day, kind, outcome, position_id, detail, recorded_at
ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;

CREATE TRIGGER decisions_never_shrink BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
