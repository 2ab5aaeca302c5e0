-- The notification outbox, PostgreSQL flavour (same tables and columns as the SQLite one). A
-- notification is inserted in the same transaction as the event it reports (a position opened,
-- a run failed, ...), so an event committed is an event that will be told and a rolled-back one
-- never is. Sending happens after commit, one delivery row per channel that wants it.

-- One row per event: the key names the event, so recording it twice (a retried job, two
-- processes) stores it once. `payload` is the notification as JSON (bounded, redacted).
CREATE TABLE notifications (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key     TEXT        NOT NULL UNIQUE,
    kind          TEXT        NOT NULL,
    severity      TEXT        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    payload       TEXT        NOT NULL,
    occurred_at   TIMESTAMPTZ NOT NULL,
    -- When the deliveries of this notification were created (NULL: not yet routed).
    routed_at     TIMESTAMPTZ
);

CREATE INDEX notifications_unrouted ON notifications (id) WHERE routed_at IS NULL;

-- One row per (notification, channel). `sending` is committed before each attempt, so a crash
-- between sending and recording the answer leaves `sending` behind and the attempt is made
-- again once its claim expires: at most one duplicate, carrying the same idempotency key.
CREATE TABLE notification_deliveries (
    id              BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id BIGINT      NOT NULL REFERENCES notifications (id),
    channel         TEXT        NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    last_error      TEXT,
    answer          TEXT,
    UNIQUE (notification_id, channel)
);

CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel, id);
