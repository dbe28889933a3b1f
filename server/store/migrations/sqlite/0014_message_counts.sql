-- Each order keeps the size of its thread, written with every message in the message's
-- own transaction: the detail's and the thread's `messages_total` read it instead of
-- counting the thread (which grew with every message). The customer's side sees the
-- thread without the notes: message_count - note_count.
ALTER TABLE comm_orders ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE comm_orders ADD COLUMN note_count INTEGER NOT NULL DEFAULT 0;
UPDATE comm_orders SET message_count = t.n, note_count = t.notes
FROM (SELECT comm_order_id, count(*) AS n, sum(message_type = 'note') AS notes
      FROM messages GROUP BY comm_order_id) AS t
WHERE t.comm_order_id = comm_orders.id;
