-- Orders sent (or to be sent) to a real venue and their fills, SQLite flavour: the outbox of
-- exactly-once execution. A planned order is committed before any network call and the venue's
-- answer after, so a crash leaves either nothing at the venue or an order the next run finds by
-- its client order id. Money, prices and quantities are exact decimal TEXT.

-- One order per decision: the (account, strategy, symbol, day, side) key is the database's
-- answer to "was this decision already planned?", so a retried or concurrent job finds the key
-- taken and gets the existing order, never a second one. The client order id is derived from
-- the same key and is unique too: the venue knows the order by it.
CREATE TABLE orders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account           TEXT NOT NULL,
    strategy          TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    day               TEXT NOT NULL,
    side              TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    amount_kind       TEXT NOT NULL CHECK (amount_kind IN ('quantity', 'quote')),
    amount            TEXT NOT NULL,
    client_order_id   TEXT NOT NULL UNIQUE,
    venue_order_id    TEXT,
    state             TEXT NOT NULL CHECK (state IN ('planned', 'submitted', 'accepted',
        'partially_filled', 'filled', 'rejected', 'canceled', 'expired', 'unknown')),
    executed_quantity TEXT NOT NULL,
    reason            TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (account, strategy, symbol, day, side)
);

-- Every job starts by resolving the orders not final yet: few rows, read often.
CREATE INDEX orders_unresolved ON orders (id)
    WHERE state IN ('planned', 'submitted', 'accepted', 'partially_filled', 'unknown');
CREATE INDEX orders_account ON orders (account, id);

-- The venue's trades of an order: a trade reported twice is stored once.
CREATE TABLE order_fills (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    trade_id    TEXT NOT NULL,
    price       TEXT NOT NULL,
    quantity    TEXT NOT NULL,
    fee         TEXT NOT NULL,
    fee_asset   TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (order_id, trade_id)
);

-- The last word on what the store already refuses: an order's identity never changes, a final
-- order never changes, and neither orders nor fills are ever removed or rewritten.
CREATE TRIGGER orders_identity_never_changes
BEFORE UPDATE OF id, account, strategy, symbol, day, side, amount_kind, amount, client_order_id,
    created_at ON orders
BEGIN SELECT RAISE(ABORT, 'an order''s identity never changes'); END;

CREATE TRIGGER orders_final_never_change BEFORE UPDATE ON orders
WHEN OLD.state IN ('filled', 'rejected', 'canceled', 'expired')
BEGIN SELECT RAISE(ABORT, 'a final order never changes'); END;

CREATE TRIGGER orders_never_shrink BEFORE DELETE ON orders
BEGIN SELECT RAISE(ABORT, 'orders are never deleted'); END;

CREATE TRIGGER order_fills_never_change BEFORE UPDATE ON order_fills
BEGIN SELECT RAISE(ABORT, 'order_fills is append-only'); END;

CREATE TRIGGER order_fills_never_shrink BEFORE DELETE ON order_fills
BEGIN SELECT RAISE(ABORT, 'order_fills is append-only'); END;
