-- The ways callers may authenticate to a realm's SCIM endpoints (token, basic, oauth, jwt),
-- space-separated; every realm starts with all of them, as before this column. (Changing it
-- is an UPDATE of realms, which the auth triggers already tell every server of.)
ALTER TABLE realms ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'token basic oauth jwt';
