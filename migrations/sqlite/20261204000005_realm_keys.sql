-- Keys that lead with the realm: every primary key, unique constraint and foreign key of a
-- per-realm table starts with realm_id, and members carries realm_id itself, as on Postgres
-- (one shape for both stores' queries). SQLite cannot change a key in place, so each table is
-- rebuilt and its rows copied; ids, versions and timestamps keep their values.

CREATE TABLE resources_v2 (
    realm_id       TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    name           TEXT NOT NULL,
    name_ci        TEXT NOT NULL,
    external_id    TEXT,
    data           TEXT NOT NULL,
    password_hash  TEXT,
    version        INTEGER NOT NULL,
    created        TEXT NOT NULL,
    last_modified  TEXT NOT NULL,
    PRIMARY KEY (realm_id, id)
);
INSERT INTO resources_v2 (realm_id, id, kind, name, name_ci, external_id, data, password_hash,
                          version, created, last_modified)
SELECT realm_id, id, kind, name, name_ci, external_id, data, password_hash,
       version, created, last_modified
FROM resources;

CREATE TABLE members_v2 (
    realm_id   TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    PRIMARY KEY (realm_id, group_id, member_id),
    FOREIGN KEY (realm_id, group_id) REFERENCES resources_v2 (realm_id, id) ON DELETE CASCADE,
    FOREIGN KEY (realm_id, member_id) REFERENCES resources_v2 (realm_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO members_v2 (realm_id, group_id, member_id)
SELECT r.realm_id, m.group_id, m.member_id FROM members m JOIN resources r ON r.id = m.group_id;

CREATE TABLE tokens_v2 (
    realm_id      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, token_hash)
);
INSERT INTO tokens_v2 (realm_id, id, name, token_hash, scopes, created_at, expires_at,
                       revoked_at, last_used_at)
SELECT realm_id, id, name, token_hash, scopes, created_at, expires_at, revoked_at, last_used_at
FROM tokens;

-- A DROP's implicit delete fires no trigger, so the resource counts stay as they are.
DROP TABLE members;
DROP TABLE tokens;
DROP TABLE resources;
ALTER TABLE resources_v2 RENAME TO resources;
ALTER TABLE members_v2 RENAME TO members;
ALTER TABLE tokens_v2 RENAME TO tokens;

CREATE UNIQUE INDEX resources_name ON resources (realm_id, kind, name_ci);
CREATE INDEX resources_page ON resources (realm_id, kind, id);
CREATE INDEX resources_external_id ON resources (realm_id, kind, external_id);
CREATE INDEX resources_sort_name ON resources (realm_id, kind, name_ci, id);
CREATE INDEX resources_sort_modified ON resources (realm_id, kind, last_modified, id);
CREATE INDEX resources_sort_created ON resources (realm_id, kind, created, id);
CREATE INDEX members_member ON members (realm_id, member_id);

CREATE TRIGGER resources_count_insert AFTER INSERT ON resources BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n) VALUES (NEW.realm_id, NEW.kind, 0, 1)
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER resources_count_delete AFTER DELETE ON resources
WHEN EXISTS (SELECT 1 FROM realms WHERE id = OLD.realm_id) BEGIN
    INSERT INTO resource_counts (realm_id, kind, shard, n) VALUES (OLD.realm_id, OLD.kind, 0, -1)
    ON CONFLICT (realm_id, kind, shard) DO UPDATE SET n = n - 1;
END;
