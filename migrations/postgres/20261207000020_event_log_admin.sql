-- The event log also records admin actions on a realm and refused credentials (issue 18):
-- their subject is not always a user or group with a uuid (a realm is named, a denial has
-- none), and they carry the action, its target path and the audit record's detail.
ALTER TABLE events
    ALTER COLUMN resource_id TYPE text USING resource_id::text,
    ALTER COLUMN resource_id DROP NOT NULL,
    ADD COLUMN action text,
    ADD COLUMN target text,
    ADD COLUMN detail jsonb;
