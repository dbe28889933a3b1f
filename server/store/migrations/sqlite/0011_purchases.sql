-- Purchase orders as the shop's orders to be paid (AnqiCMS's shop order: a string
-- order_id, amounts in cents, its statuses), and API keys for other systems.

-- The purchase orders written so far ("awaiting payment", the price as "12000.00") are
-- carried over as status 0 with their amount in cents; order_id is the creation time
-- (YYYYMMDDhhmmss, UTC) and the last 4 digits of the id.
CREATE TABLE purchase_orders (
    id                 INTEGER PRIMARY KEY,
    order_id           TEXT NOT NULL UNIQUE,
    comm_order_id      INTEGER NOT NULL UNIQUE REFERENCES comm_orders (id),
    user_id            INTEGER NOT NULL REFERENCES users (id),
    amount             INTEGER NOT NULL,                -- cents
    status             INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3, 8, 9, -1)),
    pay_way            TEXT NOT NULL DEFAULT '',        -- set when paid
    chosen_pay_way     TEXT NOT NULL DEFAULT '',        -- the customer's choice, before
    payment_reference  TEXT NOT NULL DEFAULT '',
    remark             TEXT NOT NULL DEFAULT '',
    refund_reason      TEXT NOT NULL DEFAULT '',
    refund_from_status INTEGER NOT NULL DEFAULT 0,      -- where a refused refund goes back
    express_company    TEXT NOT NULL DEFAULT '',
    tracking_number    TEXT NOT NULL DEFAULT '',
    created_time       INTEGER NOT NULL,
    updated_time       INTEGER NOT NULL,
    paid_time          INTEGER NOT NULL DEFAULT 0,
    deliver_time       INTEGER NOT NULL DEFAULT 0,
    finished_time      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO purchase_orders (id, order_id, comm_order_id, user_id, amount, remark,
                             created_time, updated_time)
SELECT id, strftime('%Y%m%d%H%M%S', created_time, 'unixepoch') || substr('000' || (id % 10000), -4),
       comm_order_id, user_id, CAST(round(CAST(amount AS REAL) * 100) AS INTEGER), remark,
       created_time, created_time
FROM orders;
DROP TABLE orders;
CREATE INDEX IF NOT EXISTS purchase_orders_user ON purchase_orders (user_id, status, id);
CREATE INDEX IF NOT EXISTS purchase_orders_status ON purchase_orders (status, id);

-- The key itself is never stored: its sha256, as session tokens are.
CREATE TABLE IF NOT EXISTS api_keys (
    id             INTEGER PRIMARY KEY,
    key_hash       BLOB NOT NULL UNIQUE,
    user_id        INTEGER NOT NULL REFERENCES users (id),  -- the admin who made it
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
    created_time   INTEGER NOT NULL,
    last_used_time INTEGER NOT NULL DEFAULT 0              -- kept to the minute; 0: never
);
