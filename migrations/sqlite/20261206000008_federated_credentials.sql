-- Workload identity federation (RFC 7523 client assertions): a client authenticates with a
-- JWT its identity provider signed (Entra, say) instead of a secret. Each credential names
-- the issuer, subject and audience the JWT must carry, and where the issuer's keys are.

CREATE TABLE oauth_federated_credentials (
    realm_id      TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    audience      TEXT NOT NULL,
    jwks_url      TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    last_used_at  TEXT,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, client_id, issuer, subject, audience),
    FOREIGN KEY (realm_id, client_id) REFERENCES oauth_clients (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_federated_credentials_match
    ON oauth_federated_credentials (realm_id, issuer, subject);

-- One-time assertion ids (`jti`) seen at the token endpoint, kept until the assertion
-- expires, so a captured assertion cannot be replayed on any server.
CREATE TABLE oauth_assertion_ids (
    realm_id       TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    assertion_key  TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (realm_id, assertion_key)
);
CREATE INDEX oauth_assertion_ids_expiry ON oauth_assertion_ids (realm_id, expires_at);
