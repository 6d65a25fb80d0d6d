-- A deleted realm takes its resource counts with it. Deleting a realm cascades to its
-- resources, whose delete trigger would write the realm's count row again after any cleanup;
-- so that trigger skips realms that no longer exist, and the realm's own delete trigger
-- removes what was there. Either order of the two leaves no row behind.
CREATE OR REPLACE FUNCTION scimd_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n)
    SELECT o.realm_id, o.kind, pg_backend_pid() % 64, -count(*) FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM realms r WHERE r.id = o.realm_id)
    GROUP BY o.realm_id, o.kind
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = resource_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION scimd_realm_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM resource_counts c USING old_realms o WHERE c.realm_id = o.id;
    RETURN NULL;
END $$;

CREATE TRIGGER realms_drop_counts AFTER DELETE ON realms
    REFERENCING OLD TABLE AS old_realms FOR EACH STATEMENT EXECUTE FUNCTION scimd_realm_deleted();

-- Rows earlier releases left behind.
DELETE FROM resource_counts c WHERE NOT EXISTS (SELECT 1 FROM realms r WHERE r.id = c.realm_id);
