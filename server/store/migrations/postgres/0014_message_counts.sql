-- Each order keeps the size of its thread: the counterpart of SQLite's migration 14.
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS note_count BIGINT NOT NULL DEFAULT 0;
-- (Written to run again over counts already there: every one is counted afresh.)
UPDATE comm_orders SET message_count = 0, note_count = 0
WHERE message_count <> 0 OR note_count <> 0;
UPDATE comm_orders o SET message_count = t.n, note_count = t.notes
FROM (SELECT comm_order_id, count(*) AS n, count(*) FILTER (WHERE message_type = 'note') AS notes
      FROM messages GROUP BY comm_order_id) AS t
WHERE t.comm_order_id = o.id;
