-- HTTP Basic credentials of a realm (RFC 7617), for identity providers that offer only Basic
-- (Okta, PingFederate, SailPoint, JumpCloud's auth_type = basic). A generated password is
-- kept as SHA-256 (256 random bits: nothing to brute-force), a chosen one as Argon2id.
CREATE TABLE basic_credentials (
    realm_id       TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    username       TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    hash_kind      TEXT NOT NULL,
    scopes         TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    expires_at     TEXT,
    last_used_at   TEXT,
    PRIMARY KEY (realm_id, id),
    UNIQUE (realm_id, username)
);
