-- The merchant's unread and awaiting-a-reply totals without counting: the counterpart
-- of SQLite's migration 13.
ALTER TABLE order_counts ADD COLUMN IF NOT EXISTS talked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_counts ADD COLUMN IF NOT EXISTS awaiting BIGINT NOT NULL DEFAULT 0;
-- (Written to run again over counts already there: every one is counted afresh.)
UPDATE order_counts SET talked = 0, awaiting = 0;
UPDATE order_counts c SET talked = t.talked, awaiting = t.awaiting
FROM (SELECT status, id % 16 AS shard, count(*) FILTER (WHERE merchant_talk_id > 0) AS talked,
             sum(awaiting_reply) AS awaiting
      FROM comm_orders GROUP BY status, id % 16) AS t
WHERE t.status = c.status AND t.shard = c.shard;

CREATE OR REPLACE FUNCTION count_orders() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE order_counts SET n = n - 1, talked = talked - (OLD.merchant_talk_id > 0)::int,
            awaiting = awaiting - OLD.awaiting_reply
        WHERE status = OLD.status AND shard = OLD.id % 16;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE order_counts SET n = n + 1, talked = talked + (NEW.merchant_talk_id > 0)::int,
            awaiting = awaiting + NEW.awaiting_reply
        WHERE status = NEW.status AND shard = NEW.id % 16;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER order_recounted
    AFTER UPDATE OF status, merchant_talk_id, awaiting_reply ON comm_orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR (OLD.merchant_talk_id > 0) <> (NEW.merchant_talk_id > 0)
                       OR OLD.awaiting_reply <> NEW.awaiting_reply)
    EXECUTE FUNCTION count_orders();

CREATE TABLE IF NOT EXISTS caught_up_counts (
    user_id BIGINT NOT NULL REFERENCES users (id),
    shard   INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (user_id, shard)
);
DELETE FROM caught_up_counts;
INSERT INTO caught_up_counts (user_id, shard, n)
SELECT r.user_id, r.comm_order_id % 16, count(*)
FROM read_markers r JOIN comm_orders o ON o.id = r.comm_order_id
WHERE o.merchant_talk_id > 0 AND o.merchant_talk_id <= r.message_id
GROUP BY r.user_id, r.comm_order_id % 16;

CREATE INDEX IF NOT EXISTS read_markers_order ON read_markers (comm_order_id);
