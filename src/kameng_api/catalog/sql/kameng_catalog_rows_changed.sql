-- Moves the catalogue version (catalog_version.version) when a statement changed rows of a
-- catalogue table: every API process keeps a snapshot of the catalogue for the purchase lane
-- and compares this version to know when it is stale. Statement-level with a transition table
-- (the *_version_* triggers), so a statement that changed nothing moves nothing.
CREATE OR REPLACE FUNCTION public.kameng_catalog_rows_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF EXISTS (SELECT FROM changed) THEN
        UPDATE catalog_version SET version = version + 1;
    END IF;
    RETURN NULL;
END
$function$;
