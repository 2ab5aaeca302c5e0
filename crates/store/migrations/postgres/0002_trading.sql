-- The trading ledger, PostgreSQL flavour (same tables and columns as the SQLite one): the paper
-- account, decisions keyed by decision day, positions, fills, and strategy/position columns on
-- the append-only history. Money, prices and quantities are NUMERIC (exact).

-- The single paper account (id is always 1).
CREATE TABLE account (
    id           SMALLINT    PRIMARY KEY CHECK (id = 1),
    initial_cash NUMERIC     NOT NULL,
    cash         NUMERIC     NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- One long position of one strategy in one instrument; closed in place, never deleted.
CREATE TABLE positions (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy     TEXT        NOT NULL,
    symbol       TEXT        NOT NULL REFERENCES instruments (symbol),
    quantity     NUMERIC     NOT NULL,
    entry_price  NUMERIC     NOT NULL,
    entry_day    DATE        NOT NULL,
    entry_fee    NUMERIC     NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('open', 'closed')),
    exit_price   NUMERIC,
    exit_day     DATE,
    exit_fee     NUMERIC,
    exit_reason  TEXT,
    realized_pnl NUMERIC,
    opened_at    TIMESTAMPTZ NOT NULL,
    closed_at    TIMESTAMPTZ,
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
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT      REFERENCES runs (id) ON DELETE SET NULL,
    strategy    TEXT        NOT NULL,
    symbol      TEXT        NOT NULL,
    day         DATE        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('entry', 'exit')),
    outcome     TEXT        NOT NULL
        CHECK (outcome IN ('passed', 'failed', 'not_ready', 'skipped', 'refused')),
    position_id BIGINT      REFERENCES positions (id),
    detail      TEXT        NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    UNIQUE (strategy, symbol, day, kind)
);

CREATE INDEX decisions_symbol ON decisions (symbol, day);
CREATE INDEX decisions_position ON decisions (position_id);

-- Every executed order; a position has its opening fill and, once closed, its closing fill.
CREATE TABLE fills (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position_id BIGINT      NOT NULL REFERENCES positions (id),
    side        TEXT        NOT NULL CHECK (side IN ('buy', 'sell')),
    symbol      TEXT        NOT NULL,
    day         DATE        NOT NULL,
    price       NUMERIC     NOT NULL,
    basis       TEXT        NOT NULL,
    quantity    NUMERIC     NOT NULL,
    gross       NUMERIC     NOT NULL,
    fee         NUMERIC     NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX fills_position ON fills (position_id);

ALTER TABLE history ADD COLUMN strategy TEXT;
ALTER TABLE history ADD COLUMN position_id BIGINT REFERENCES positions (id);

CREATE INDEX history_symbol ON history (symbol);
CREATE INDEX history_strategy ON history (strategy);
CREATE INDEX history_recorded_at ON history (recorded_at);
CREATE INDEX history_position ON history (position_id);

-- History and decisions are append-only: rows are never changed or removed (only run_id may be
-- cleared, by ON DELETE SET NULL when a run is deleted).
CREATE FUNCTION barter_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
        OR (to_jsonb(NEW) - 'run_id') IS DISTINCT FROM (to_jsonb(OLD) - 'run_id') THEN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION barter_append_only();

CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION barter_append_only();
