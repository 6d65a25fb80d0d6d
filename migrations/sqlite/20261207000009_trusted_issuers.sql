-- JWT bearer from a trusted issuer: a realm accepts `Authorization: Bearer <JWT>` signed by
-- an external issuer (Entra's own access token, say), checked against the issuer, audience
-- and optional subject here, its scopes fixed or mapped from one of the JWT's claims.
CREATE TABLE trusted_issuers (
    realm_id      TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    audience      TEXT NOT NULL,
    subject       TEXT,
    jwks_url      TEXT,
    scopes        TEXT NOT NULL DEFAULT '',
    scope_claim   TEXT,
    scope_values  TEXT NOT NULL DEFAULT '{}',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL,
    last_used_at  TEXT,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, name)
);
CREATE INDEX trusted_issuers_match ON trusted_issuers (realm_id, issuer);
