-- The control plane (the admin API): what an operator names and describes, admin
-- credentials, token rotation, and a record of every admin action.

ALTER TABLE tenants
    ADD COLUMN display_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN description  TEXT NOT NULL DEFAULT '',
    ADD COLUMN updated_at   timestamptz;
UPDATE tenants SET updated_at = created_at;
ALTER TABLE tenants ALTER COLUMN updated_at SET NOT NULL;

ALTER TABLE realms
    ADD COLUMN display_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN description  TEXT NOT NULL DEFAULT '',
    ADD COLUMN updated_at   timestamptz;
UPDATE realms SET updated_at = created_at;
ALTER TABLE realms ALTER COLUMN updated_at SET NOT NULL;

-- replaced_by: the token a rotation made to succeed this one; the old one lives on until its
-- expires_at (the grace period), and a second rotation of it is refused.
ALTER TABLE tokens
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN created_by  TEXT NOT NULL DEFAULT '',
    ADD COLUMN replaced_by uuid;
CREATE INDEX tokens_name ON tokens (realm_id, name);

-- Admin tokens reach the admin API: tenant NULL is a global admin (every tenant), else only
-- that tenant's realms and tokens. Stored by hash, as SCIM tokens are.
CREATE TABLE admin_tokens (
    id            uuid PRIMARY KEY,
    tenant        TEXT REFERENCES tenants(name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    timestamptz NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX admin_tokens_tenant ON admin_tokens (tenant, id);

-- Every admin action: who, what, when, from where. No foreign key: the record of a
-- tenant's deletion outlives the tenant.
CREATE TABLE audit_events (
    id       uuid PRIMARY KEY,
    tenant   TEXT,
    at       timestamptz NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    address  TEXT,
    detail   JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_tenant ON audit_events (tenant, id);
