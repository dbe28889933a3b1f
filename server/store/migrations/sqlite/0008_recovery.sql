-- Password recovery and disabled accounts.

-- 1: the account may not log in, and its reset links do not work.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- Reset links: only the sha256 of each token is stored; a token lives an hour and works
-- once (a reset deletes every token of its user). `mailed`: made by a forgotten-password
-- request, which counts against the account's mails per hour.
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
