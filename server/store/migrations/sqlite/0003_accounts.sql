-- Accounts: one login namespace, sessions that keep their own TTL and
-- their order, registration rate, and purgeable login failures.

-- Every user name, email and phone, folded (NFKC, ASCII lower case: model.login_key), in
-- one table whose key makes each value identify at most one account. Compared byte for
-- byte (BINARY), never with NOCASE. Users made before this migration are folded with
-- ASCII lower(); where two of them clashed, the older account keeps the value.
CREATE TABLE IF NOT EXISTS login_names (
    login   TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('user_name', 'email', 'phone'))
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS login_names_user ON login_names (user_id, kind);

INSERT OR IGNORE INTO login_names (login, user_id, kind)
    SELECT lower(user_name), id, 'user_name' FROM users ORDER BY id;
INSERT OR IGNORE INTO login_names (login, user_id, kind)
    SELECT lower(email), id, 'email' FROM users WHERE email IS NOT NULL ORDER BY id;
INSERT OR IGNORE INTO login_names (login, user_id, kind)
    SELECT phone, id, 'phone' FROM users WHERE phone IS NOT NULL ORDER BY id;

-- ttl: the seconds this session lives after a renewal (--session-ttl or --remember-ttl;
-- 0 for sessions made before this migration: the server's --session-ttl).
-- serial: increasing per user, so "the user's oldest session" is well defined.
ALTER TABLE sessions ADD COLUMN ttl INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN serial INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS sessions_user;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, serial);

-- Successful registrations per client address, for --max-registrations-per-hour.
CREATE TABLE IF NOT EXISTS registrations (
    address      TEXT NOT NULL,
    created_time INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS registrations_address ON registrations (address, created_time);
CREATE INDEX IF NOT EXISTS registrations_time ON registrations (created_time);

-- Rows older than the throttling window are purged by time.
CREATE INDEX IF NOT EXISTS login_failures_time ON login_failures (failed_at);
