-- The SQLite side of this step makes the ids of API keys, saved replies and webhooks
-- never given again (AUTOINCREMENT). PostgreSQL's sequences never give an id again:
-- nothing changes here (a file of comments alone would be an empty query).
SELECT 1;
