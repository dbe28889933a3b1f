-- Threads sort by id, not by created_time: a wall clock that steps back must
-- not hide the newest message from the detail's last-100 view.
DROP INDEX IF EXISTS messages_thread;
CREATE INDEX IF NOT EXISTS messages_thread ON messages (comm_order_id, id);
