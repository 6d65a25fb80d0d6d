-- OAuth 2.0 clients (RFC 6749 §4.4 client credentials): an identity provider authenticates
-- with a client id and one of its secrets at the realm's token endpoint and is issued an
-- access token, stored as a row of `tokens` (by hash) that names its client.

CREATE TABLE oauth_clients (
    realm_id        TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    token_lifetime  INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, name)
);

-- Up to five live secrets per client, so one can be replaced while another still works.
CREATE TABLE oauth_client_secrets (
    realm_id      TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, secret_hash),
    FOREIGN KEY (realm_id, client_id) REFERENCES oauth_clients (realm_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (realm_id, client_id);

-- An issued access token names its client; NULL for the tokens an admin creates. SQLite
-- cannot add a two-column foreign key to a table in place: deleting a client deletes its
-- access tokens in the same transaction instead.
ALTER TABLE tokens ADD COLUMN client_id TEXT;
CREATE INDEX tokens_client ON tokens (realm_id, client_id);
