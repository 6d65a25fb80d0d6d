-- Webhook subscriptions: a realm's events sent, in order, to a URL, signed in the Standard
-- Webhooks format. The signing secrets are sealed (AES-256-GCM under the server's
-- key-encryption key): a copy of the database file alone reveals none of them.
CREATE TABLE webhooks (
    realm_id          TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id                TEXT NOT NULL,
    -- Names never change: kept here for the payload, which names the realm.
    tenant            TEXT NOT NULL,
    realm             TEXT NOT NULL,
    url               TEXT NOT NULL,
    description       TEXT,
    event_types       TEXT NOT NULL,
    enabled           INTEGER NOT NULL,
    secret            TEXT NOT NULL,
    previous_secret   TEXT,
    previous_until    TEXT,
    -- Everything up to (delivered_major, delivered_seq) of the realm's log is delivered.
    delivered_major   INTEGER NOT NULL,
    delivered_seq     INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT NOT NULL,
    failing_since     TEXT,
    failure           TEXT,
    last_success_at   TEXT,
    -- The server sending for it just now, and until when that holds without news from it.
    lease_owner       TEXT,
    lease_until       TEXT,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (realm_id, id)
);

CREATE TABLE webhook_deliveries (
    realm_id     TEXT NOT NULL,
    webhook_id   TEXT NOT NULL,
    id           TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    at           TEXT NOT NULL,
    status_code  INTEGER,
    latency_ms   INTEGER NOT NULL,
    error        TEXT,
    manual       INTEGER NOT NULL,
    PRIMARY KEY (realm_id, webhook_id, id),
    FOREIGN KEY (realm_id, webhook_id) REFERENCES webhooks (realm_id, id) ON DELETE CASCADE
);
