-- Ledger entries and lines never change once written: UPDATE, DELETE and TRUNCATE on
-- wallet_entries and wallet_lines are refused (the *_no_change, *_no_truncate triggers).
CREATE OR REPLACE FUNCTION public.wallet_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$function$;
