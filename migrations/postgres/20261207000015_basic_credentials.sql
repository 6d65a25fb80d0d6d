-- HTTP Basic credentials of a realm (RFC 7617), for identity providers that offer only Basic
-- (Okta, PingFederate, SailPoint, JumpCloud's auth_type = basic). A generated password is
-- kept as SHA-256 (256 random bits: nothing to brute-force), a chosen one as Argon2id.
CREATE TABLE basic_credentials (
    realm_id       uuid NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    username       TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    hash_kind      TEXT NOT NULL CHECK (hash_kind IN ('sha256', 'argon2id')),
    scopes         TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    expires_at     timestamptz,
    last_used_at   timestamptz,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, username)
);

-- Servers cache credentials they verified; deleting one must reach every server at once, as a
-- token's revocation does. Its last-use bookkeeping stays silent.
CREATE TRIGGER basic_credentials_auth_changed
    AFTER UPDATE ON basic_credentials FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION scimd_auth_changed();

CREATE TRIGGER basic_credentials_auth_removed
    AFTER DELETE OR TRUNCATE ON basic_credentials FOR EACH STATEMENT
    EXECUTE FUNCTION scimd_auth_changed();
