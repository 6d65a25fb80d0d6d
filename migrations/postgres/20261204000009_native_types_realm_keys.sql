-- Native types, and keys that lead with the realm.
--
-- Ids become uuid (16 bytes, not 36 characters of text, in every key and index) and
-- timestamps timestamptz. Every primary key, unique constraint and foreign key of a per-realm
-- table (resources, members, tokens, resource_counts) now starts with realm_id, and members
-- carries realm_id itself: that is what lets a distributed Postgres (Citus) place each realm's
-- rows on one node and route every statement to it (docs/scale-out.md). Existing rows are
-- converted in place; ids, versions and timestamps keep their values.

-- What refers to the columns being changed goes first, and comes back at the end.
ALTER TABLE members DROP CONSTRAINT members_group_id_fkey;
ALTER TABLE members DROP CONSTRAINT members_member_id_fkey;
ALTER TABLE tokens DROP CONSTRAINT tokens_realm_id_fkey;
ALTER TABLE resources DROP CONSTRAINT resources_realm_id_fkey;
DROP TRIGGER tokens_auth_changed ON tokens;
-- Byte-order ("C") text indexes: timestamps order as themselves.
DROP INDEX resources_sort_modified;
DROP INDEX resources_sort_created;

ALTER TABLE tenants
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE realms
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;

ALTER TABLE tokens
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN realm_id TYPE uuid USING realm_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN revoked_at TYPE timestamptz USING revoked_at::timestamptz,
    ALTER COLUMN last_used_at TYPE timestamptz USING last_used_at::timestamptz;
ALTER TABLE tokens DROP CONSTRAINT tokens_pkey;
ALTER TABLE tokens ADD CONSTRAINT tokens_pkey PRIMARY KEY (realm_id, id);
ALTER TABLE tokens DROP CONSTRAINT tokens_token_hash_key;
ALTER TABLE tokens ADD CONSTRAINT tokens_hash UNIQUE (realm_id, token_hash);
DROP INDEX tokens_realm;

ALTER TABLE resources
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN realm_id TYPE uuid USING realm_id::uuid,
    ALTER COLUMN created TYPE timestamptz USING created::timestamptz,
    ALTER COLUMN last_modified TYPE timestamptz USING last_modified::timestamptz;
ALTER TABLE resources DROP CONSTRAINT resources_pkey;
ALTER TABLE resources ADD CONSTRAINT resources_pkey PRIMARY KEY (realm_id, id);
CREATE INDEX resources_sort_modified ON resources (realm_id, kind, last_modified, id);
CREATE INDEX resources_sort_created ON resources (realm_id, kind, created, id);

ALTER TABLE members
    ALTER COLUMN group_id TYPE uuid USING group_id::uuid,
    ALTER COLUMN member_id TYPE uuid USING member_id::uuid,
    ADD COLUMN realm_id uuid;
UPDATE members m SET realm_id = r.realm_id FROM resources r WHERE r.id = m.group_id;
-- A row whose group was gone could only have been left by hand; the old keys cascaded.
DELETE FROM members WHERE realm_id IS NULL;
ALTER TABLE members ALTER COLUMN realm_id SET NOT NULL;
ALTER TABLE members DROP CONSTRAINT members_pkey;
ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY (realm_id, group_id, member_id);
DROP INDEX members_member;
CREATE INDEX members_member ON members (realm_id, member_id);

ALTER TABLE resource_counts
    ALTER COLUMN realm_id TYPE uuid USING realm_id::uuid;

ALTER TABLE resources ADD CONSTRAINT resources_realm_fkey
    FOREIGN KEY (realm_id) REFERENCES realms (id) ON DELETE CASCADE;
ALTER TABLE tokens ADD CONSTRAINT tokens_realm_fkey
    FOREIGN KEY (realm_id) REFERENCES realms (id) ON DELETE CASCADE;
ALTER TABLE members ADD CONSTRAINT members_group_fkey
    FOREIGN KEY (realm_id, group_id) REFERENCES resources (realm_id, id) ON DELETE CASCADE;
ALTER TABLE members ADD CONSTRAINT members_member_fkey
    FOREIGN KEY (realm_id, member_id) REFERENCES resources (realm_id, id) ON DELETE CASCADE;

CREATE TRIGGER tokens_auth_changed
    AFTER UPDATE ON tokens FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION scimd_auth_changed();
