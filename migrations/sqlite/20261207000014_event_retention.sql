-- Event retention (issue 18): how long a realm keeps its events, by age and/or count, and
-- how far pruning has gone. New and existing realms keep 90 days and no count limit; NULL
-- means no limit of that kind.
ALTER TABLE realms ADD COLUMN event_retention_days INTEGER DEFAULT 90;
ALTER TABLE realms ADD COLUMN event_retention_count INTEGER;

-- The position of the last event pruned in each realm: a reader whose cursor is before it
-- missed events and is told so (410). It also keeps a realm's numbering going once every
-- event is pruned (a new event's seq is the greatest seq kept, or this, plus one).
CREATE TABLE event_marks (
    realm_id   TEXT PRIMARY KEY REFERENCES realms(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    pruned     INTEGER NOT NULL,
    pruned_at  TEXT NOT NULL
);
