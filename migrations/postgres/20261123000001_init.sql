-- Tenancy: tenants own realms; each realm is one SCIM directory with its own tokens.
CREATE TABLE tenants (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE realms (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'enabled'
                CHECK (state IN ('enabled', 'paused', 'disabled')),
    created_at  TEXT NOT NULL,
    UNIQUE (tenant, name)
);

-- Tokens are stored as SHA-256 hashes of high-entropy secrets; the secret itself never is.
CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    realm_id      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT
);
CREATE INDEX tokens_realm ON tokens (realm_id);

-- Users and Groups share one table: one uniqueness rule (userName / displayName, folded),
-- one membership foreign key, one place to search across types.
-- Timestamps are fixed-width UTC RFC 3339 text, so they order and compare the same way on
-- both backends.
CREATE TABLE resources (
    id             TEXT PRIMARY KEY,
    realm_id       TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    name           TEXT NOT NULL,
    name_ci        TEXT NOT NULL,
    external_id    TEXT,
    data           JSONB NOT NULL,
    password_hash  TEXT,
    version        BIGINT NOT NULL,
    created        TEXT NOT NULL,
    last_modified  TEXT NOT NULL
);
CREATE UNIQUE INDEX resources_name ON resources (realm_id, kind, name_ci);
CREATE INDEX resources_page ON resources (realm_id, kind, id);
CREATE INDEX resources_external_id ON resources (realm_id, kind, external_id);

-- Membership as rows: a change touches only the rows it changes.
CREATE TABLE members (
    group_id   TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX members_member ON members (member_id);
