-- The event log (issue 18): one row per change of a user or group, written in the change's
-- own transaction. SQLite has one writer at a time, and `seq` is taken inside the write
-- transaction (the realm's greatest seq plus one), so seq order is commit order and a reader
-- that has seen seq n has seen every event before it.
CREATE TABLE events (
    realm_id         TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    at               TEXT NOT NULL,
    actor            TEXT NOT NULL,
    request_id       TEXT,
    operation        TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    version          INTEGER,
    changed          TEXT NOT NULL,
    members_added    TEXT,
    members_removed  TEXT,
    PRIMARY KEY (realm_id, seq)
);
