-- OAuth 2.0 clients (RFC 6749 §4.4 client credentials): an identity provider authenticates
-- with a client id and one of its secrets at the realm's token endpoint and is issued an
-- access token, stored as a row of `tokens` (by hash) that names its client.

CREATE TABLE oauth_clients (
    realm_id        uuid NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    token_lifetime  INTEGER NOT NULL,
    created_at      timestamptz NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, name)
);

-- Up to five live secrets per client, so one can be replaced while another still works.
CREATE TABLE oauth_client_secrets (
    realm_id      uuid NOT NULL,
    client_id     uuid NOT NULL,
    id            uuid NOT NULL,
    secret_hash   TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, secret_hash),
    FOREIGN KEY (realm_id, client_id) REFERENCES oauth_clients (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (realm_id, client_id);

-- An issued access token names its client (NULL: a token an admin created), and goes with
-- it: deleting the client deletes them, which the tokens triggers announce to every server.
ALTER TABLE tokens ADD COLUMN client_id uuid;
ALTER TABLE tokens ADD CONSTRAINT tokens_client_fk FOREIGN KEY (realm_id, client_id)
    REFERENCES oauth_clients (realm_id, id) ON DELETE CASCADE;
CREATE INDEX tokens_client ON tokens (realm_id, client_id);
