-- Run leases, SQLite flavour: which process owns a running run and when it last said it was
-- alive. A run whose heartbeat is older than the lease is presumed dead (killed, out of memory,
-- disk full) and marked `interrupted` by the next job or server start.
-- `owner` is `host:pid:nonce`; `heartbeat_at` is RFC 3339 TEXT like the other timestamps.
-- Both are NULL for runs recorded before this migration.

ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;

-- The sweep for dead runs reads only the running ones.
CREATE INDEX runs_running ON runs (heartbeat_at) WHERE status = 'running';
