-- Server-wide secrets (the cursor signing key).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- SQLite compares text in byte order (BINARY) already.
CREATE INDEX resources_sort_name ON resources (realm_id, kind, name_ci, id);
CREATE INDEX resources_sort_modified ON resources (realm_id, kind, last_modified, id);
CREATE INDEX resources_sort_created ON resources (realm_id, kind, created, id);
