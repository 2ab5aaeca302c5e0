-- The kill switch, PostgreSQL flavour (same table as the SQLite one): one row saying whether
-- new entries are halted, why, since when and by whom. It lives in the database so every
-- process sharing it (CLI, servers, schedulers) obeys it; each change is also appended to the
-- history.
CREATE TABLE trading_halt (
    id         SMALLINT    PRIMARY KEY CHECK (id = 1),
    halted     BOOLEAN     NOT NULL,
    reason     TEXT,
    changed_by TEXT        NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
