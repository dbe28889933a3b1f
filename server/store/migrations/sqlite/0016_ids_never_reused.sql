-- rebuilds tables: foreign keys off
-- The ids of rows that can be deleted (API keys, saved replies, webhooks, attachments,
-- and deliveries: a webhook's go with it) are never given again, as PostgreSQL's
-- sequences never give them: without AUTOINCREMENT SQLite gives the newest row's id
-- again once that row is deleted. So a delete or an update sent again by a client that
-- missed the answer reached the newer row that took the id, and a new webhook message
-- went out with the `webhook-id` (msg_<delivery id>) of an earlier one, which a
-- receiver that drops repeated ids would drop.
CREATE TABLE api_keys_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash       BLOB NOT NULL UNIQUE,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
    created_time   INTEGER NOT NULL,
    last_used_time INTEGER NOT NULL DEFAULT 0
);
INSERT INTO api_keys_new (id, key_hash, user_id, name, role, created_time, last_used_time)
SELECT id, key_hash, user_id, name, role, created_time, last_used_time FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;

CREATE TABLE attachments_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL UNIQUE,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_size    INTEGER NOT NULL,
    file_md5     TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    data         BLOB NOT NULL,
    thumb        BLOB,
    created_time INTEGER NOT NULL
);
INSERT INTO attachments_new (id, user_id, name, file_name, content_type, file_size, file_md5,
                             width, height, data, thumb, created_time)
SELECT id, user_id, name, file_name, content_type, file_size, file_md5,
       width, height, data, thumb, created_time
FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;
CREATE INDEX IF NOT EXISTS attachments_user ON attachments (user_id);

CREATE TABLE webhooks_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    description  TEXT NOT NULL,
    secret       TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_time INTEGER NOT NULL
);
INSERT INTO webhooks_new (id, url, events, description, secret, enabled, created_time)
SELECT id, url, events, description, secret, enabled, created_time FROM webhooks;
DROP TABLE webhooks;
ALTER TABLE webhooks_new RENAME TO webhooks;

CREATE TABLE deliveries_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id     INTEGER REFERENCES webhooks (id) ON DELETE CASCADE,
    recipient_id   INTEGER REFERENCES users (id),
    event_id       INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'delivered', 'failed')),
    http_status    INTEGER,
    error          TEXT NOT NULL DEFAULT '',
    created_time   INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO deliveries_new (id, webhook_id, recipient_id, event_id, event_type, payload,
                            attempts, status, http_status, error, created_time,
                            next_attempt_ms, lease_until_ms)
SELECT id, webhook_id, recipient_id, event_id, event_type, payload,
       attempts, status, http_status, error, created_time, next_attempt_ms, lease_until_ms
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, id);

CREATE TABLE saved_replies_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    content      TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL
);
INSERT INTO saved_replies_new (id, title, content, created_time, updated_time)
SELECT id, title, content, created_time, updated_time FROM saved_replies;
DROP TABLE saved_replies;
ALTER TABLE saved_replies_new RENAME TO saved_replies;
