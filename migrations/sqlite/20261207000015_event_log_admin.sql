-- The event log also records admin actions on a realm and refused credentials (issue 18):
-- a denial has no resource, and both carry the action, its target path and the audit
-- record's detail. SQLite cannot drop a NOT NULL in place: the table is rebuilt.
CREATE TABLE events_rebuilt (
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    at               TEXT NOT NULL,
    actor            TEXT NOT NULL,
    request_id       TEXT,
    operation        TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT,
    version          INTEGER,
    changed          TEXT NOT NULL,
    members_added    TEXT,
    members_removed  TEXT,
    action           TEXT,
    target           TEXT,
    detail           TEXT,
    PRIMARY KEY (realm_id, seq)
);
INSERT INTO events_rebuilt (realm_id, seq, at, actor, request_id, operation, resource_type,
    resource_id, version, changed, members_added, members_removed)
SELECT realm_id, seq, at, actor, request_id, operation, resource_type, resource_id, version,
    changed, members_added, members_removed FROM events;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
