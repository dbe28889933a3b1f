-- orderdesk's SQLite schema: what a fresh database holds once every migration has run,
-- written out in one place to read. The server builds databases from the numbered
-- migrations in server/store/migrations/sqlite/; tests/test_schema.py checks that this
-- file builds the same tables, columns and indexes.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    -- NOCASE folds ASCII case only: "unique ignoring ASCII case", stored as sent.
    user_name     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT UNIQUE COLLATE NOCASE,          -- NULL when not given
    phone         TEXT UNIQUE,                         -- NULL when not given
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'staff', 'admin')),
    password_hash TEXT NOT NULL,
    created_time  INTEGER NOT NULL,
    notify_email  INTEGER NOT NULL DEFAULT 1,          -- 0 turns mail off
    language      TEXT NOT NULL DEFAULT 'en',          -- of the last login
    disabled      INTEGER NOT NULL DEFAULT 0,          -- 1: no login, no reset link works
    last_login_time INTEGER NOT NULL DEFAULT 0         -- the last login or registration; 0: never
);

-- The admins and staff, whom new orders and customer messages are mailed to: found by
-- an index, not by reading every user.
CREATE INDEX IF NOT EXISTS users_role_email ON users (role, email);

CREATE TABLE IF NOT EXISTS sessions (
    token_hash   BLOB PRIMARY KEY,                     -- sha256 of the token; the token itself is never stored
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL,
    created_time INTEGER NOT NULL,
    ttl          INTEGER NOT NULL DEFAULT 0,           -- seconds a renewal adds (0: the server's --session-ttl)
    serial       INTEGER NOT NULL DEFAULT 0,           -- increasing per user: the oldest session goes first
    last_used_time INTEGER NOT NULL DEFAULT 0          -- written at most once a minute (migration 15)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, serial);

-- One login namespace: every user name, email and phone, folded (NFKC, ASCII lower case:
-- model.login_key); the key makes each value identify at most one account. Compared
-- byte for byte (BINARY), never with NOCASE.
CREATE TABLE IF NOT EXISTS login_names (
    login   TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('user_name', 'email', 'phone'))
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS login_names_user ON login_names (user_id, kind);

-- Successful registrations per client address, for --max-registrations-per-hour.
CREATE TABLE IF NOT EXISTS registrations (
    address      TEXT NOT NULL,
    created_time INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS registrations_address ON registrations (address, created_time);
CREATE INDEX IF NOT EXISTS registrations_time ON registrations (created_time);

CREATE TABLE IF NOT EXISTS comm_orders (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    order_id        INTEGER NOT NULL DEFAULT 0,
    archive_id      INTEGER NOT NULL,
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,
    phone           TEXT NOT NULL,
    images          TEXT NOT NULL DEFAULT '[]',        -- JSON array of strings
    sketch_images   TEXT NOT NULL DEFAULT '[]',
    finished_images TEXT NOT NULL DEFAULT '[]',
    event_date      TEXT NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 0 CHECK (status IN (-1, 0, 1, 2, 3, 4)),
    admin_id        INTEGER NOT NULL DEFAULT 0,
    quote_price     TEXT NOT NULL DEFAULT '',          -- "12000.00", '' before any quote
    quote_content   TEXT NOT NULL DEFAULT '',
    order_extra     TEXT NOT NULL DEFAULT '{}',        -- JSON object, merged with json_patch
    created_time    INTEGER NOT NULL,
    updated_time    INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    assignee_id     INTEGER NOT NULL DEFAULT 0,        -- the staff member or admin it is assigned to; 0: nobody
    -- The latest messages each side may see, written with every message: the latest
    -- (notes included) and the latest that is not a note (the customer's side); the
    -- latest that is not a system message, on each side (unread > 0 exactly when it is
    -- above the reader's marker); whether the latest message neither system nor a note
    -- is the customer's.
    last_message_id       INTEGER NOT NULL DEFAULT 0,
    last_message_time     INTEGER NOT NULL DEFAULT 0,
    customer_message_id   INTEGER NOT NULL DEFAULT 0,
    customer_message_time INTEGER NOT NULL DEFAULT 0,
    merchant_talk_id      INTEGER NOT NULL DEFAULT 0,
    customer_talk_id      INTEGER NOT NULL DEFAULT 0,
    awaiting_reply        INTEGER NOT NULL DEFAULT 0,
    -- The thread's size, written with every message; the customer's side sees it
    -- without the notes.
    message_count         INTEGER NOT NULL DEFAULT 0,
    note_count            INTEGER NOT NULL DEFAULT 0
);

-- The customer's list (newest first, optionally by status) and the merchant's list.
CREATE INDEX IF NOT EXISTS comm_orders_user ON comm_orders (user_id, id);
CREATE INDEX IF NOT EXISTS comm_orders_user_status ON comm_orders (user_id, status, id);
CREATE INDEX IF NOT EXISTS comm_orders_status ON comm_orders (status, id);
CREATE INDEX IF NOT EXISTS comm_orders_assignee ON comm_orders (assignee_id, id);
-- The inbox's sorts (latest activity first) and filters, on each side.
CREATE INDEX IF NOT EXISTS comm_orders_activity
    ON comm_orders (max(updated_time, last_message_time), id);
CREATE INDEX IF NOT EXISTS comm_orders_user_activity
    ON comm_orders (user_id, max(updated_time, customer_message_time), id);
-- Awaiting a reply: only those orders, so the filter and its count read no others.
CREATE INDEX IF NOT EXISTS comm_orders_awaiting ON comm_orders (id)
    WHERE awaiting_reply = 1 AND status <> -1;
-- The merchant's unread filter, newest first, and its count: only the orders with any
-- message that is not a system message can be unread (with that message's id, so the
-- count reads the index alone).
CREATE INDEX IF NOT EXISTS comm_orders_talk ON comm_orders (id, merchant_talk_id)
    WHERE merchant_talk_id > 0;
CREATE INDEX IF NOT EXISTS comm_orders_awaiting_activity
    ON comm_orders (max(updated_time, last_message_time), id)
    WHERE awaiting_reply = 1 AND status <> -1;

CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY,
    comm_order_id INTEGER NOT NULL REFERENCES comm_orders (id),
    sender_id     INTEGER NOT NULL,                    -- 0 for system messages
    sender_type   TEXT NOT NULL CHECK (sender_type IN ('user', 'admin', 'system')),
    sender_name   TEXT NOT NULL,
    message_type  TEXT NOT NULL,
    content       TEXT NOT NULL,
    created_time  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS messages_thread ON messages (comm_order_id, id);

-- Each user's read marker per order: the last message read (never moves back).
CREATE TABLE IF NOT EXISTS read_markers (
    user_id       INTEGER NOT NULL REFERENCES users (id),
    comm_order_id INTEGER NOT NULL REFERENCES comm_orders (id),
    message_id    INTEGER NOT NULL,
    PRIMARY KEY (user_id, comm_order_id)
) WITHOUT ROWID;

-- An order's readers, for the counts a new message moves.
CREATE INDEX IF NOT EXISTS read_markers_order ON read_markers (comm_order_id);

-- How many orders each status holds, split over 16 rows by order id, kept by the
-- triggers below in the transaction of every change: the merchant's list answers its
-- total (or one status's) from these rows instead of counting every order. `talked`:
-- how many of them have a message that is not a system message (which the merchant's
-- side may not have read); `awaiting`: how many await a reply.
CREATE TABLE IF NOT EXISTS order_counts (
    status INTEGER NOT NULL,
    shard  INTEGER NOT NULL,                             -- the order's id % 16
    n      INTEGER NOT NULL DEFAULT 0,
    talked INTEGER NOT NULL DEFAULT 0,
    awaiting INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (status, shard)
) WITHOUT ROWID;

-- A row for every status and shard, from the start (a fresh database: all 0).
WITH RECURSIVE shards (shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM shards WHERE shard < 15),
     statuses (status) AS (VALUES (-1), (0), (1), (2), (3), (4))
INSERT INTO order_counts (status, shard) SELECT status, shard FROM statuses, shards;

CREATE TRIGGER IF NOT EXISTS order_counted AFTER INSERT ON comm_orders BEGIN
    UPDATE order_counts SET n = n + 1, talked = talked + (NEW.merchant_talk_id > 0),
        awaiting = awaiting + NEW.awaiting_reply
    WHERE status = NEW.status AND shard = NEW.id % 16;
END;
CREATE TRIGGER IF NOT EXISTS order_recounted
AFTER UPDATE OF status, merchant_talk_id, awaiting_reply ON comm_orders
WHEN OLD.status <> NEW.status OR (OLD.merchant_talk_id > 0) <> (NEW.merchant_talk_id > 0)
     OR OLD.awaiting_reply <> NEW.awaiting_reply
BEGIN
    UPDATE order_counts SET n = n - 1, talked = talked - (OLD.merchant_talk_id > 0),
        awaiting = awaiting - OLD.awaiting_reply
    WHERE status = OLD.status AND shard = OLD.id % 16;
    UPDATE order_counts SET n = n + 1, talked = talked + (NEW.merchant_talk_id > 0),
        awaiting = awaiting + NEW.awaiting_reply
    WHERE status = NEW.status AND shard = NEW.id % 16;
END;
CREATE TRIGGER IF NOT EXISTS order_uncounted AFTER DELETE ON comm_orders BEGIN
    UPDATE order_counts SET n = n - 1, talked = talked - (OLD.merchant_talk_id > 0),
        awaiting = awaiting - OLD.awaiting_reply
    WHERE status = OLD.status AND shard = OLD.id % 16;
END;

-- Per user, how many orders they have read up to the latest message that is not a
-- system message (0 < merchant_talk_id <= their marker), split like order_counts and
-- kept by the statements that write messages and move read markers. A merchant's
-- unread orders are the orders `talked` less these.
CREATE TABLE IF NOT EXISTS caught_up_counts (
    user_id INTEGER NOT NULL REFERENCES users (id),
    shard   INTEGER NOT NULL,                            -- the order's id % 16
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, shard)
) WITHOUT ROWID;

-- Purchase orders: the shop's order to be paid, made when a customer accepts a quote.
CREATE TABLE IF NOT EXISTS purchase_orders (
    id                 INTEGER PRIMARY KEY,
    order_id           TEXT NOT NULL UNIQUE,                -- YYYYMMDDhhmmss (UTC) + id's last 4 digits
    comm_order_id      INTEGER NOT NULL UNIQUE REFERENCES comm_orders (id),
    user_id            INTEGER NOT NULL REFERENCES users (id),
    amount             INTEGER NOT NULL,                    -- cents
    status             INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3, 8, 9, -1)),
    pay_way            TEXT NOT NULL DEFAULT '',            -- set when paid
    chosen_pay_way     TEXT NOT NULL DEFAULT '',            -- the customer's choice, before
    payment_reference  TEXT NOT NULL DEFAULT '',
    remark             TEXT NOT NULL DEFAULT '',
    refund_reason      TEXT NOT NULL DEFAULT '',
    refund_from_status INTEGER NOT NULL DEFAULT 0,          -- where a refused refund goes back
    express_company    TEXT NOT NULL DEFAULT '',
    tracking_number    TEXT NOT NULL DEFAULT '',
    created_time       INTEGER NOT NULL,
    updated_time       INTEGER NOT NULL,
    paid_time          INTEGER NOT NULL DEFAULT 0,
    deliver_time       INTEGER NOT NULL DEFAULT 0,
    finished_time      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS purchase_orders_user ON purchase_orders (user_id, status, id);
CREATE INDEX IF NOT EXISTS purchase_orders_status ON purchase_orders (status, id);

-- API keys for other systems; the key itself is never stored, only its sha256.
CREATE TABLE IF NOT EXISTS api_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never given again
    key_hash       BLOB NOT NULL UNIQUE,
    user_id        INTEGER NOT NULL REFERENCES users (id),  -- the admin who made it
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
    created_time   INTEGER NOT NULL,
    last_used_time INTEGER NOT NULL DEFAULT 0              -- kept to the minute; 0: never
);

-- Small documents such as the order field definitions (key 'order_fields', a JSON array).
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Failed logins, for throttling: one row per failed attempt and subject; rows older than
-- the window are purged.
CREATE TABLE IF NOT EXISTS login_failures (
    subject   TEXT NOT NULL,       -- 'pair:<account>|<client address>' or 'addr:<client address>'
    failed_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS login_failures_subject ON login_failures (subject, failed_at);
CREATE INDEX IF NOT EXISTS login_failures_time ON login_failures (failed_at);

-- Attachments: uploaded files and their thumbnails, bytes and all, so a backup
-- holds them. `name` is the URL's last part (/uploads/<name>, /uploads/thumb/<name>):
-- at least 128 random bits and an extension, never the client's file name.
CREATE TABLE IF NOT EXISTS attachments (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL UNIQUE,
    file_name    TEXT NOT NULL,          -- the client's name, without any directory part
    content_type TEXT NOT NULL,
    file_size    INTEGER NOT NULL,       -- length of data; counts against the user's quota
    file_md5     TEXT NOT NULL,          -- hex md5 of data; `check` compares both
    width        INTEGER NOT NULL,       -- 0 for a PDF
    height       INTEGER NOT NULL,
    data         BLOB NOT NULL,
    thumb        BLOB,                   -- NULL for a PDF
    created_time INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS attachments_user ON attachments (user_id);

-- Live events: one row per change, written in the change's own transaction;
-- pruned after EVENT_KEEP_SECONDS. AUTOINCREMENT: ids are never reused after pruning.
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT NOT NULL,       -- 'order.created', 'order.updated', 'message.created'
    comm_order_id INTEGER NOT NULL REFERENCES comm_orders (id),
    user_id       INTEGER NOT NULL,    -- the order's owner: who may see the event
    data          TEXT NOT NULL,       -- JSON: the order or the message, as the API answers
    created_time  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);

-- Notifications: webhooks and the outbox of webhook and mail deliveries.
CREATE TABLE IF NOT EXISTS webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never given again
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

-- Password reset links: only the sha256 of each token is stored; a token lives an hour
-- and works once (a reset sets every token of its user to expire at 0). `mailed`: made
-- by a forgotten-password request, which counts against the account's mails per hour,
-- used or not: a token is deleted once expired and older than that hour.
CREATE TABLE IF NOT EXISTS reset_tokens (
    token_hash   BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL,
    created_time INTEGER NOT NULL,
    mailed       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS reset_tokens_user ON reset_tokens (user_id, created_time);
CREATE INDEX IF NOT EXISTS reset_tokens_expiry ON reset_tokens (expires_at);

-- Forgotten-password requests per client address, for their rate limit.
CREATE TABLE IF NOT EXISTS reset_requests (
    address      TEXT NOT NULL,
    created_time INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS reset_requests_address ON reset_requests (address, created_time);
CREATE INDEX IF NOT EXISTS reset_requests_time ON reset_requests (created_time);

-- Saved replies, shared by staff and admins: at most model.SAVED_REPLIES_MAX rows.
CREATE TABLE IF NOT EXISTS saved_replies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never given again
    title        TEXT NOT NULL,
    content      TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL
);
