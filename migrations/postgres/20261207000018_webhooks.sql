-- Webhook subscriptions: a realm's events sent, in order, to a URL, signed in the Standard
-- Webhooks format. The signing secrets are sealed (AES-256-GCM under the server's
-- key-encryption key): a dump of this table alone reveals none of them.
CREATE TABLE webhooks (
    realm_id          uuid NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    -- Names never change: kept here for the payload, which names the realm.
    tenant            TEXT NOT NULL,
    realm             TEXT NOT NULL,
    url               TEXT NOT NULL,
    description       TEXT,
    event_types       TEXT NOT NULL,
    enabled           BOOLEAN NOT NULL,
    secret            TEXT NOT NULL,
    previous_secret   TEXT,
    previous_until    timestamptz,
    -- Everything up to (delivered_major, delivered_seq) of the realm's log is delivered.
    delivered_major   bigint NOT NULL,
    delivered_seq     bigint NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    failing_since     timestamptz,
    failure           TEXT,
    last_success_at   timestamptz,
    -- The server sending for it just now, and until when that holds without news from it.
    lease_owner       TEXT,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (realm_id, id)
);
CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE enabled AND failure IS NULL;

CREATE TABLE webhook_deliveries (
    realm_id     uuid NOT NULL,
    webhook_id   uuid NOT NULL,
    id           uuid NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL,
    status_code  integer,
    latency_ms   bigint NOT NULL,
    error        TEXT,
    manual       BOOLEAN NOT NULL,
    PRIMARY KEY (realm_id, webhook_id, id),
    FOREIGN KEY (realm_id, webhook_id) REFERENCES webhooks (realm_id, id) ON DELETE CASCADE
);
