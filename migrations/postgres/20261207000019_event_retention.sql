-- Event retention (issue 18): how long a realm keeps its events, by age and/or count, and
-- how far pruning has gone. New and existing realms keep 90 days and no count limit; NULL
-- means no limit of that kind.
ALTER TABLE realms ADD COLUMN event_retention_days integer DEFAULT 90;
ALTER TABLE realms ADD COLUMN event_retention_count bigint;

-- The position of the last event pruned in each realm: a reader whose cursor is before it
-- missed events and is told so (410) instead of silently reading on past the gap. Its own
-- table, since an UPDATE of realms is an authentication change every server hears about.
CREATE TABLE event_marks (
    realm_id   uuid PRIMARY KEY REFERENCES realms(id) ON DELETE CASCADE,
    txid       xid8 NOT NULL,
    seq        bigint NOT NULL,
    pruned     bigint NOT NULL,
    pruned_at  timestamptz NOT NULL
);
