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
