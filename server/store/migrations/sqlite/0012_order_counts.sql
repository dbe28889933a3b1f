-- How many orders each status holds, kept by triggers in the transaction of every
-- change, so the merchant's list answers its total without counting a million rows.
-- Each status's count is split over 16 rows by the order's id (PostgreSQL: concurrent
-- changes to different orders rarely wait for one row); a total is their sum.
CREATE TABLE IF NOT EXISTS order_counts (
    status INTEGER NOT NULL,
    shard  INTEGER NOT NULL,
    n      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (status, shard)
) WITHOUT ROWID;

WITH RECURSIVE shards (shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM shards WHERE shard < 15),
     statuses (status) AS (VALUES (-1), (0), (1), (2), (3), (4))
INSERT INTO order_counts (status, shard, n)
SELECT status, shard, (SELECT count(*) FROM comm_orders o
                       WHERE o.status = statuses.status AND o.id % 16 = shards.shard)
FROM statuses, shards WHERE true  -- (the upsert's parsing needs a WHERE)
ON CONFLICT (status, shard) DO UPDATE SET n = excluded.n;

CREATE TRIGGER IF NOT EXISTS order_counted AFTER INSERT ON comm_orders BEGIN
    UPDATE order_counts SET n = n + 1 WHERE status = NEW.status AND shard = NEW.id % 16;
END;
CREATE TRIGGER IF NOT EXISTS order_recounted AFTER UPDATE OF status ON comm_orders
WHEN OLD.status <> NEW.status BEGIN
    UPDATE order_counts SET n = n - 1 WHERE status = OLD.status AND shard = OLD.id % 16;
    UPDATE order_counts SET n = n + 1 WHERE status = NEW.status AND shard = NEW.id % 16;
END;
CREATE TRIGGER IF NOT EXISTS order_uncounted AFTER DELETE ON comm_orders BEGIN
    UPDATE order_counts SET n = n - 1 WHERE status = OLD.status AND shard = OLD.id % 16;
END;
