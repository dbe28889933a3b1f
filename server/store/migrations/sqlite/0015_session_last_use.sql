-- A session's last use, written when a request finds the one written a minute old
-- (model.LAST_USE_SECONDS), for the export of personal data. Until now only a renewal
-- wrote: a session's last known use is its last renewal (its expiry less its TTL, when
-- the session has its own) or its creation.
ALTER TABLE sessions ADD COLUMN last_used_time INTEGER NOT NULL DEFAULT 0;
UPDATE sessions
SET last_used_time = CASE WHEN ttl > 0 THEN max(created_time, expires_at - ttl)
                          ELSE created_time END
WHERE last_used_time = 0;
