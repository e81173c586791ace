-- The operation log is append-only: UPDATE, DELETE and TRUNCATE on audit_log are refused
-- (triggers audit_log_no_change, audit_log_no_truncate).
CREATE OR REPLACE FUNCTION public.audit_log_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$function$;
