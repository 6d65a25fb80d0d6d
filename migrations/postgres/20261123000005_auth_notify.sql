-- Servers cache who may call a realm (realm state and token validity) and must forget it the
-- moment anyone changes either: every server LISTENs on `scimd_auth`, and these triggers
-- NOTIFY it on each change, whoever makes it (another server, the CLI, plain SQL). A token's
-- last-use bookkeeping, written every few seconds, changes nothing a cache holds and stays
-- silent. NOTIFY is transactional: a rolled-back change says nothing, and notices within one
-- transaction are folded into one.
CREATE FUNCTION scimd_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scimd_auth', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER tokens_auth_changed
    AFTER UPDATE ON tokens FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION scimd_auth_changed();

CREATE TRIGGER tokens_auth_removed
    AFTER DELETE OR TRUNCATE ON tokens FOR EACH STATEMENT
    EXECUTE FUNCTION scimd_auth_changed();

CREATE TRIGGER realms_auth_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON realms FOR EACH STATEMENT
    EXECUTE FUNCTION scimd_auth_changed();
