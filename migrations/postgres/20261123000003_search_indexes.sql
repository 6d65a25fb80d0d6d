-- Index support for the lookups identity providers make before every create, and for
-- substring filters. The exact filter semantics stay in the queries; these indexes only let
-- Postgres find the candidates without scanning every row.

-- userName / displayName co, sw, ew: trigrams over the folded name (LIKE on name_ci).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX resources_name_trgm ON resources USING gin (name_ci gin_trgm_ops);

-- ASCII case folding that does not depend on the database locale; the Kelvin sign folds to
-- 'k' as it does in Rust, so for ASCII literals this agrees with scimd's own folding.
CREATE FUNCTION scimd_fold_ascii(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZK', 'abcdefghijklmnopqrstuvwxyzk') $$;

-- Every email value of a resource, folded: emails.value eq / emails[type eq "work"].value eq.
CREATE FUNCTION scimd_email_values(d jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(array_agg(scimd_fold_ascii(e ->> 'value')) FILTER (WHERE e ->> 'value' IS NOT NULL),
                    '{}'::text[])
    FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(d -> 'emails') = 'array' THEN d -> 'emails' ELSE '[]'::jsonb END
    ) AS e
    $$;
CREATE INDEX resources_email_values ON resources USING gin (scimd_email_values(data));

-- The same values as one string, for trigram-assisted emails co / sw / ew.
CREATE FUNCTION scimd_email_text(d jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_to_string(scimd_email_values(d), ' ') $$;
CREATE INDEX resources_email_trgm ON resources USING gin (scimd_email_text(data) gin_trgm_ops);
