-- Failed logins, for throttling: one row per failed (or in-progress) attempt and subject.
CREATE TABLE IF NOT EXISTS login_failures (
    subject   TEXT NOT NULL,       -- 'name:<login, lower case>' or 'addr:<client address>'
    failed_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS login_failures_subject ON login_failures (subject, failed_at);
