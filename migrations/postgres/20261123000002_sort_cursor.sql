-- Server-wide secrets (the cursor signing key), shared by every replica.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Sorted pages and keyset seeks in byte order ("C"), the order scimd defines on every backend.
CREATE INDEX resources_sort_name ON resources (realm_id, kind, name_ci COLLATE "C", id);
CREATE INDEX resources_sort_modified ON resources (realm_id, kind, last_modified COLLATE "C", id);
CREATE INDEX resources_sort_created ON resources (realm_id, kind, created COLLATE "C", id);
