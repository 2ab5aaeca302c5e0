-- Orders sent (or to be sent) to a real venue and their fills, PostgreSQL flavour (same tables
-- and columns as the SQLite one): the outbox of exactly-once execution. A planned order is
-- committed before any network call and the venue's answer after, so a crash leaves either
-- nothing at the venue or an order the next run finds by its client order id. Money, prices and
-- quantities are NUMERIC (exact).

-- One order per decision: the (account, strategy, symbol, day, side) key is the database's
-- answer to "was this decision already planned?", so a retried or concurrent job finds the key
-- taken and gets the existing order, never a second one. The client order id is derived from
-- the same key and is unique too: the venue knows the order by it.
CREATE TABLE orders (
    id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account           TEXT        NOT NULL,
    strategy          TEXT        NOT NULL,
    symbol            TEXT        NOT NULL,
    day               DATE        NOT NULL,
    side              TEXT        NOT NULL CHECK (side IN ('buy', 'sell')),
    amount_kind       TEXT        NOT NULL CHECK (amount_kind IN ('quantity', 'quote')),
    amount            NUMERIC     NOT NULL,
    client_order_id   TEXT        NOT NULL UNIQUE,
    venue_order_id    TEXT,
    state             TEXT        NOT NULL CHECK (state IN ('planned', 'submitted', 'accepted',
        'partially_filled', 'filled', 'rejected', 'canceled', 'expired', 'unknown')),
    executed_quantity NUMERIC     NOT NULL,
    reason            TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (account, strategy, symbol, day, side)
);

-- Every job starts by resolving the orders not final yet: few rows, read often.
CREATE INDEX orders_unresolved ON orders (id)
    WHERE state IN ('planned', 'submitted', 'accepted', 'partially_filled', 'unknown');
CREATE INDEX orders_account ON orders (account, id);

-- The venue's trades of an order: a trade reported twice is stored once.
CREATE TABLE order_fills (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    BIGINT      NOT NULL REFERENCES orders (id),
    trade_id    TEXT        NOT NULL,
    price       NUMERIC     NOT NULL,
    quantity    NUMERIC     NOT NULL,
    fee         NUMERIC     NOT NULL,
    fee_asset   TEXT        NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    UNIQUE (order_id, trade_id)
);

-- The last word on what the store already refuses: an order's identity never changes, a final
-- order never changes, and neither orders nor fills are ever removed or rewritten.
CREATE FUNCTION barter_order_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'orders are never deleted';
    END IF;
    IF OLD.state IN ('filled', 'rejected', 'canceled', 'expired') THEN
        RAISE EXCEPTION 'a final order never changes';
    END IF;
    IF (NEW.id, NEW.account, NEW.strategy, NEW.symbol, NEW.day, NEW.side, NEW.amount_kind,
            NEW.amount, NEW.client_order_id, NEW.created_at)
        IS DISTINCT FROM (OLD.id, OLD.account, OLD.strategy, OLD.symbol, OLD.day, OLD.side,
            OLD.amount_kind, OLD.amount, OLD.client_order_id, OLD.created_at) THEN
        RAISE EXCEPTION 'an order''s identity never changes';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER orders_guard BEFORE UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION barter_order_guard();

CREATE TRIGGER order_fills_append_only BEFORE UPDATE OR DELETE ON order_fills
    FOR EACH ROW EXECUTE FUNCTION barter_append_only();
