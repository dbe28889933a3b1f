-- rebuilds tables: foreign keys off
-- The merchant's desk: the role 'staff', each user's last login, who an order is
-- assigned to, and the saved replies staff and admins share.

-- users is rebuilt to widen its role CHECK (SQLite cannot alter a CHECK): sessions,
-- orders and the outbox refer to it, so this file runs with foreign keys off and is
-- kept only if every one of them still holds.
CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY,
    user_name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email           TEXT UNIQUE COLLATE NOCASE,
    phone           TEXT UNIQUE,
    role            TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'staff', 'admin')),
    password_hash   TEXT NOT NULL,
    created_time    INTEGER NOT NULL,
    notify_email    INTEGER NOT NULL DEFAULT 1,
    language        TEXT NOT NULL DEFAULT 'en',
    disabled        INTEGER NOT NULL DEFAULT 0,
    last_login_time INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_new (id, user_name, email, phone, role, password_hash, created_time,
                       notify_email, language, disabled, last_login_time)
SELECT id, user_name, email, phone, role, password_hash, created_time,
       notify_email, language, disabled, 0
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX IF NOT EXISTS users_role_email ON users (role, email);

-- 0: nobody.
ALTER TABLE comm_orders ADD COLUMN assignee_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS comm_orders_assignee ON comm_orders (assignee_id, id);

CREATE TABLE IF NOT EXISTS saved_replies (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    content      TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL
);
