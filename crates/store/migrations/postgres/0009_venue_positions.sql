-- Positions of named accounts, PostgreSQL flavour (same columns as the SQLite one): each
-- position belongs to an account (`paper` for every position opened before named accounts
-- existed) and, for a venue's account, points to the orders that opened and closed it. A
-- venue's position is booked from its order's fills after the order is final; the unique links
-- make booking an order a second time (a retried job, a resumed one) a no-op.
ALTER TABLE positions ADD COLUMN account TEXT NOT NULL DEFAULT 'paper';
ALTER TABLE positions ADD COLUMN entry_order_id BIGINT REFERENCES orders (id);
ALTER TABLE positions ADD COLUMN exit_order_id BIGINT REFERENCES orders (id);

CREATE UNIQUE INDEX positions_entry_order ON positions (entry_order_id)
    WHERE entry_order_id IS NOT NULL;
CREATE UNIQUE INDEX positions_exit_order ON positions (exit_order_id)
    WHERE exit_order_id IS NOT NULL;
CREATE INDEX positions_account ON positions (account, status);

-- Shadow fills: for every booked venue order, what the paper fill model gave for the same
-- decision (kept with the decision when it was taken) next to what the venue filled, so the
-- slippage and fee difference between backtests and reality can be reported.
CREATE TABLE shadow_fills (
    order_id        BIGINT      PRIMARY KEY REFERENCES orders (id),
    account         TEXT        NOT NULL,
    strategy        TEXT        NOT NULL,
    symbol          TEXT        NOT NULL,
    side            TEXT        NOT NULL CHECK (side IN ('buy', 'sell')),
    shadow_price    NUMERIC     NOT NULL,
    shadow_quantity NUMERIC     NOT NULL,
    shadow_fee      NUMERIC     NOT NULL,
    venue_price     NUMERIC     NOT NULL,
    venue_quantity  NUMERIC     NOT NULL,
    venue_fee       NUMERIC     NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL
);
