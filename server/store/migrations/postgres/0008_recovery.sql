-- Password recovery and disabled accounts: the counterpart of SQLite's migration 8.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS reset_tokens (
    token_hash   BYTEA PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   BIGINT NOT NULL,
    created_time BIGINT NOT NULL,
    mailed       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS reset_tokens_user ON reset_tokens (user_id, created_time);
CREATE INDEX IF NOT EXISTS reset_tokens_expiry ON reset_tokens (expires_at);

CREATE TABLE IF NOT EXISTS reset_requests (
    address      TEXT NOT NULL,
    created_time BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS reset_requests_address ON reset_requests (address, created_time);
CREATE INDEX IF NOT EXISTS reset_requests_time ON reset_requests (created_time);
