-- A deleted realm takes its resource counts with it (see the Postgres migration of the same
-- name): the cascaded resource deletes skip realms that no longer exist, and the realm's own
-- delete removes what was there.
DROP TRIGGER resources_count_delete;
CREATE TRIGGER resources_count_delete AFTER DELETE ON resources
WHEN EXISTS (SELECT 1 FROM realms WHERE id = OLD.realm_id) BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n) VALUES (OLD.realm_id, OLD.kind, 0, -1)
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = n - 1;
END;

CREATE TRIGGER realms_drop_counts AFTER DELETE ON realms BEGIN
    DELETE FROM resource_counts WHERE realm_id = OLD.id;
END;

DELETE FROM resource_counts WHERE realm_id NOT IN (SELECT id FROM realms);
