-- Notifications: webhooks, one outbox of webhook and mail deliveries, and each
-- user's mail setting and language.
ALTER TABLE users ADD COLUMN notify_email INTEGER NOT NULL DEFAULT 1;  -- 0: no mail
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en';      -- of the last login

-- The admins, whom new orders and customer messages are mailed to: found by an index,
-- not by reading every user.
CREATE INDEX IF NOT EXISTS users_role_email ON users (role, email);

CREATE TABLE IF NOT EXISTS webhooks (
    id           INTEGER PRIMARY KEY,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,        -- JSON list of event types, or ["*"]
    description  TEXT NOT NULL,
    secret       TEXT NOT NULL,        -- whsec_ + base64 of the key bytes
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_time INTEGER NOT NULL
);

-- The outbox: written in the change's own transaction, sent by the worker. A webhook
-- delivery carries its body (events are pruned before the last retry); a mail names
-- its recipient and what happened, and is written when it is sent.
CREATE TABLE IF NOT EXISTS deliveries (
    id             INTEGER PRIMARY KEY,
    webhook_id     INTEGER REFERENCES webhooks (id) ON DELETE CASCADE,  -- NULL: a mail
    recipient_id   INTEGER REFERENCES users (id),                       -- a mail's
    event_id       INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,      -- JSON: the webhook body, or the mail's facts
    attempts       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'delivered', 'failed')),
    http_status    INTEGER,
    error          TEXT NOT NULL DEFAULT '',
    created_time   INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,  -- due time in milliseconds (tiny test delays)
    lease_until_ms INTEGER NOT NULL DEFAULT 0  -- an attempt in flight until then
);

CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, id);
