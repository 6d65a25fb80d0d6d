-- Sorting by a case-insensitive attribute folds the key as scimd folds everywhere else
-- (Unicode lower case, Rust's `to_lowercase`), not as the database's locale would: lower()
-- under the ICU root locale does that (full case mapping, final sigma included), whatever the
-- database's own collation. A server built without ICU gets lower() of the "C" collation,
-- which folds ASCII only, as every sort did before.
DO $migration$
BEGIN
    CREATE COLLATION scimd_lower (provider = icu, locale = 'und');
EXCEPTION WHEN OTHERS THEN
    CREATE COLLATION scimd_lower FROM "C";
END
$migration$;
