-- rebuilds tables: foreign keys off
-- The ids of API keys, saved replies and webhooks are never given again, as
-- PostgreSQL's sequences never give them: without AUTOINCREMENT SQLite gives the
-- newest row's id again once that row is deleted, so a delete or an update sent again
-- by a client that missed the answer reached the newer row that took the id. (Ids
-- deleted before this step may still be given once more: nothing remembers them.) The
-- tables are small; attachments and deliveries, which can be large, are not copied:
-- a webhook message's id is made of its event's and its webhook's ids, both never
-- given again.
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
