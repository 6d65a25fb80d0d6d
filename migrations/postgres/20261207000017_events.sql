-- The event log (issue 18): one row per change of a user or group, written by the statement
-- or transaction that makes the change, so a change without its event (or an event without
-- its change) cannot exist.
--
-- Readers must never skip an event. `seq` comes from a sequence, and sequences hand out
-- numbers at INSERT, not at COMMIT: a transaction that took seq 41 can commit after one that
-- took 42, and a reader that had already seen 42 would never see 41. So the feed is ordered
-- by the writing transaction's id (`txid`) and shows only events of transactions older than
-- every transaction still running (pg_snapshot_xmin of the current snapshot): those have all
-- ended, so nothing can still appear before the reader's position.
CREATE TABLE events (
    realm_id         uuid NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    txid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    at               timestamptz NOT NULL,
    actor            text NOT NULL,
    request_id       text,
    operation        text NOT NULL,
    resource_type    text NOT NULL,
    resource_id      uuid NOT NULL,
    version          bigint,
    changed          text[] NOT NULL,
    members_added    text[],
    members_removed  text[],
    -- The feed's order and its one access path, (realm, txid, seq) > the reader's position;
    -- one index, since every event costs each index an insertion.
    PRIMARY KEY (realm_id, txid, seq)
);

-- An append-only table: autovacuum has nothing to clean until events are pruned, but the
-- planner should know the table's size early.
ALTER TABLE events SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
