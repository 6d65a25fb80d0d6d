-- Statistics for `resources` from autovacuum, and soon (issue 21).
--
-- 1. Autovacuum's ANALYZE of `resources` failed every time, so the table only ever had
--    statistics when someone ran ANALYZE by hand. ANALYZE computes statistics for expression
--    indexes, here scimd_email_values(data) and scimd_email_text(data); autovacuum runs them
--    with an empty search_path, and their bodies called scimd_fold_ascii and
--    scimd_email_values unqualified: "function scimd_fold_ascii(text) does not exist", logged
--    once a minute, and no statistics. Without them the planner takes `realm_id = $1` and
--    `kind = $2` to match 0.5% of the rows each (0.0025% together: "1 row"), so every index
--    that starts with (realm_id, kind) looks as good as the primary key or the unique name
--    index: GET /Users/{id} walked a realm's whole resources_sort_created index and
--    `userName eq` its whole resources_page index and heap (10,109 buffers at 5,000 users),
--    a third and a tenth of the settled rates. (pg_restore, which also runs with an empty
--    search_path, could not rebuild the two indexes either.)
--    The same functions with those calls qualified by the schema they live in: same values,
--    so the indexes built on them stay valid.
DO $migration$
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %1$I.scimd_email_values(d jsonb) RETURNS text[]
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
            AS $body$
        BEGIN
            RETURN (
                SELECT coalesce(array_agg(%1$I.scimd_fold_ascii(e ->> 'value'))
                                    FILTER (WHERE e ->> 'value' IS NOT NULL),
                                '{}'::text[])
                FROM jsonb_array_elements(
                    CASE WHEN jsonb_typeof(d -> 'emails') = 'array' THEN d -> 'emails'
                         ELSE '[]'::jsonb END
                ) AS e);
        END $body$
    $f$, current_schema());
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION %1$I.scimd_email_text(d jsonb) RETURNS text
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
            AS $body$
        BEGIN
            RETURN array_to_string(%1$I.scimd_email_values(d), ' ');
        END $body$
    $f$, current_schema());
END
$migration$;

-- 2. Re-analyze after 2% of the rows changed (plus 500), not 10% (plus 50): the statistics
--    that say how many rows a realm has follow a new or growing realm in a large table. With
--    the defaults, a realm of 5,000 users added to a table of 1,000,000 rows waits for
--    100,000 changes before the statistics know it, and until then the planner takes it for
--    one row (a value outside the statistics), as above. Autovacuum looks at most once a
--    minute (autovacuum_naptime), so this costs at most one ANALYZE a minute under constant
--    writes.
ALTER TABLE resources SET (autovacuum_analyze_scale_factor = 0.02,
                           autovacuum_analyze_threshold = 500);
ALTER TABLE members SET (autovacuum_analyze_scale_factor = 0.02,
                         autovacuum_analyze_threshold = 500);
