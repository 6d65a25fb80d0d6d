-- totalResults of an unfiltered list without counting every row (see the Postgres
-- migration). SQLite has one writer at a time, so one row per (realm, kind) suffices.
CREATE TABLE resource_counts (
    realm_id  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    shard     INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (realm_id, kind, shard)
);

CREATE TRIGGER resources_count_insert AFTER INSERT ON resources BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n) VALUES (NEW.realm_id, NEW.kind, 0, 1)
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER resources_count_delete AFTER DELETE ON resources BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n) VALUES (OLD.realm_id, OLD.kind, 0, -1)
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = n - 1;
END;

INSERT INTO resource_counts (realm_id, kind, shard, n)
SELECT realm_id, kind, 0, count(*) FROM resources GROUP BY realm_id, kind;
