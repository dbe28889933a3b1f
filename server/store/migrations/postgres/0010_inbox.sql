-- The inbox, as SQLite's migration 10: each user's read marker per order, and on each
-- order the latest messages each side may see (written with every message), so that
-- unread, last_message, last_activity_time and the inbox's sort and filters need no
-- scan of the threads.
CREATE TABLE IF NOT EXISTS read_markers (
    user_id       BIGINT NOT NULL REFERENCES users (id),
    comm_order_id BIGINT NOT NULL REFERENCES comm_orders (id),
    message_id    BIGINT NOT NULL,                    -- the last message read; never moves back
    PRIMARY KEY (user_id, comm_order_id)
);

-- last_message_*: the latest message (the merchant's side, notes included);
-- customer_message_*: the latest that is not a note (the customer's side);
-- merchant_talk_id / customer_talk_id: the latest that is not a system message, on each
-- side (unread > 0 exactly when it is above the reader's marker);
-- awaiting_reply: the latest message neither system nor a note is the customer's.
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS last_message_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS last_message_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS customer_message_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS customer_message_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS merchant_talk_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS customer_talk_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN IF NOT EXISTS awaiting_reply INTEGER NOT NULL DEFAULT 0;

UPDATE comm_orders SET
    last_message_id = coalesce((SELECT max(id) FROM messages
                                WHERE comm_order_id = comm_orders.id), 0),
    customer_message_id = coalesce((SELECT max(id) FROM messages
                                    WHERE comm_order_id = comm_orders.id
                                      AND message_type <> 'note'), 0),
    merchant_talk_id = coalesce((SELECT max(id) FROM messages
                                 WHERE comm_order_id = comm_orders.id
                                   AND sender_type <> 'system'), 0),
    customer_talk_id = coalesce((SELECT max(id) FROM messages
                                 WHERE comm_order_id = comm_orders.id
                                   AND sender_type <> 'system' AND message_type <> 'note'), 0);
UPDATE comm_orders SET
    last_message_time = coalesce((SELECT created_time FROM messages
                                  WHERE id = comm_orders.last_message_id), 0),
    customer_message_time = coalesce((SELECT created_time FROM messages
                                      WHERE id = comm_orders.customer_message_id), 0),
    awaiting_reply = coalesce((SELECT (sender_type = 'user')::int FROM messages
                               WHERE id = comm_orders.customer_talk_id), 0);

-- Whoever wrote in a thread has read it up to their own latest message there.
INSERT INTO read_markers (user_id, comm_order_id, message_id)
SELECT sender_id, comm_order_id, max(id) FROM messages
WHERE sender_id > 0 AND sender_id IN (SELECT id FROM users)
GROUP BY sender_id, comm_order_id;

-- The inbox's sorts (latest activity first) and filters, on each side.
CREATE INDEX IF NOT EXISTS comm_orders_activity
    ON comm_orders (greatest(updated_time, last_message_time), id);
CREATE INDEX IF NOT EXISTS comm_orders_user_activity
    ON comm_orders (user_id, greatest(updated_time, customer_message_time), id);
-- Awaiting a reply: only those orders, so the filter and its count read no others.
CREATE INDEX IF NOT EXISTS comm_orders_awaiting ON comm_orders (id)
    WHERE awaiting_reply = 1 AND status <> -1;
-- The merchant's unread filter, newest first, and its count: only the orders with any
-- message that is not a system message can be unread (with that message's id, so the
-- count reads the index alone).
CREATE INDEX IF NOT EXISTS comm_orders_talk ON comm_orders (id, merchant_talk_id)
    WHERE merchant_talk_id > 0;
CREATE INDEX IF NOT EXISTS comm_orders_awaiting_activity
    ON comm_orders (greatest(updated_time, last_message_time), id)
    WHERE awaiting_reply = 1 AND status <> -1;
