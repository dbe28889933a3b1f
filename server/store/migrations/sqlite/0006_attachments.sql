-- Attachments: uploaded files and their thumbnails, bytes and all, so a backup
-- holds them. `name` is the URL's last part (/uploads/<name>, /uploads/thumb/<name>):
-- at least 128 random bits and an extension, never the client's file name.
CREATE TABLE IF NOT EXISTS attachments (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL UNIQUE,
    file_name    TEXT NOT NULL,          -- the client's name, without any directory part
    content_type TEXT NOT NULL,
    file_size    INTEGER NOT NULL,       -- length of data; counts against the user's quota
    file_md5     TEXT NOT NULL,          -- hex md5 of data; `check` compares both
    width        INTEGER NOT NULL,       -- 0 for a PDF
    height       INTEGER NOT NULL,
    data         BLOB NOT NULL,
    thumb        BLOB,                   -- NULL for a PDF
    created_time INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS attachments_user ON attachments (user_id);
