-- The merchant's unread and awaiting-a-reply filters answer their totals without
-- counting. Unread: the orders that have a message the merchant's side may not have
-- read (any but a system message: `talked`, per status and shard, kept by the order
-- counts' triggers) less those the reader has read up to their latest such message
-- (caught_up_counts, per user and shard, kept by the statements that write messages and
-- move read markers). Awaiting a reply: `awaiting`, kept by the same triggers.
ALTER TABLE order_counts ADD COLUMN talked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_counts ADD COLUMN awaiting INTEGER NOT NULL DEFAULT 0;
UPDATE order_counts SET talked = t.talked, awaiting = t.awaiting
FROM (SELECT status, id % 16 AS shard, sum(merchant_talk_id > 0) AS talked,
             sum(awaiting_reply) AS awaiting
      FROM comm_orders GROUP BY status, id % 16) AS t
WHERE t.status = order_counts.status AND t.shard = order_counts.shard;

DROP TRIGGER IF EXISTS order_counted;
DROP TRIGGER IF EXISTS order_recounted;
DROP TRIGGER IF EXISTS order_uncounted;
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
-- system message (0 < merchant_talk_id <= their marker), split like order_counts.
CREATE TABLE IF NOT EXISTS caught_up_counts (
    user_id INTEGER NOT NULL REFERENCES users (id),
    shard   INTEGER NOT NULL,                            -- the order's id % 16
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, shard)
) WITHOUT ROWID;
INSERT INTO caught_up_counts (user_id, shard, n)
SELECT r.user_id, r.comm_order_id % 16, count(*)
FROM read_markers r JOIN comm_orders o ON o.id = r.comm_order_id
WHERE o.merchant_talk_id > 0 AND o.merchant_talk_id <= r.message_id
GROUP BY r.user_id, r.comm_order_id % 16;

-- An order's readers, for the counts a new message moves.
CREATE INDEX IF NOT EXISTS read_markers_order ON read_markers (comm_order_id);
