-- Live events: one row per change, written in the change's own transaction.
-- AUTOINCREMENT: an id is never reused, even after every row has been pruned, so a
-- client resuming after N never takes a new event for one it already had. A SQLite
-- file has one writer, so ids increase in commit order.
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT NOT NULL,       -- 'order.created', 'order.updated', 'message.created'
    comm_order_id INTEGER NOT NULL REFERENCES comm_orders (id),
    user_id       INTEGER NOT NULL,    -- the order's owner: who may see the event
    data          TEXT NOT NULL,       -- JSON: the order or the message, as the API answers
    created_time  INTEGER NOT NULL
);

-- A customer's replay. (An admin's reads the id range; pruning scans from the lowest id.)
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);
