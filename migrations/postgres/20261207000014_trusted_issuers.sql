-- JWT bearer from a trusted issuer: a realm accepts `Authorization: Bearer <JWT>` signed by
-- an external issuer (Entra's own access token, say), checked against the issuer, audience
-- and optional subject here, its scopes fixed or mapped from one of the JWT's claims.
CREATE TABLE trusted_issuers (
    realm_id      uuid NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    name          TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    audience      TEXT NOT NULL,
    subject       TEXT,
    jwks_url      TEXT,
    scopes        TEXT NOT NULL DEFAULT '',
    scope_claim   TEXT,
    scope_values  jsonb NOT NULL DEFAULT '{}',
    enabled       BOOLEAN NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, name)
);
CREATE INDEX trusted_issuers_match ON trusted_issuers (realm_id, issuer);

-- Servers cache JWTs they verified; disabling, changing or deleting an issuer must reach
-- every server at once, as a token's revocation does. Its last-use bookkeeping stays silent.
CREATE TRIGGER trusted_issuers_auth_changed
    AFTER UPDATE ON trusted_issuers FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION scimd_auth_changed();

CREATE TRIGGER trusted_issuers_auth_removed
    AFTER DELETE OR TRUNCATE ON trusted_issuers FOR EACH STATEMENT
    EXECUTE FUNCTION scimd_auth_changed();
