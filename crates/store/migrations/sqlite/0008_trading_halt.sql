-- The kill switch, SQLite flavour: one row saying whether new entries are halted, why, since
-- when and by whom. It lives in the database so every process sharing it (CLI, servers,
-- schedulers) obeys it; each change is also appended to the history.
CREATE TABLE trading_halt (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    halted     INTEGER NOT NULL CHECK (halted IN (0, 1)),
    reason     TEXT,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
