-- How many orders each status holds: the counterpart of SQLite's migration 12.
CREATE TABLE IF NOT EXISTS order_counts (
    status INTEGER NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (status, shard)
);

INSERT INTO order_counts (status, shard, n)
SELECT s.status, h.shard, count(o.id)
FROM unnest(ARRAY[-1, 0, 1, 2, 3, 4]) AS s(status)
CROSS JOIN generate_series(0, 15) AS h(shard)
LEFT JOIN comm_orders o ON o.status = s.status AND o.id % 16 = h.shard
GROUP BY s.status, h.shard
ON CONFLICT (status, shard) DO UPDATE SET n = excluded.n;

CREATE OR REPLACE FUNCTION count_orders() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE order_counts SET n = n - 1 WHERE status = OLD.status AND shard = OLD.id % 16;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE order_counts SET n = n + 1 WHERE status = NEW.status AND shard = NEW.id % 16;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER order_counted AFTER INSERT OR DELETE ON comm_orders
    FOR EACH ROW EXECUTE FUNCTION count_orders();
CREATE OR REPLACE TRIGGER order_recounted AFTER UPDATE OF status ON comm_orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION count_orders();
