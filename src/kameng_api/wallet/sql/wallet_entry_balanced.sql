-- Double entry, checked at commit (constraint trigger wallet_lines_balanced, deferred): the
-- lines of a ledger entry sum to zero and there are at least two of them.
CREATE OR REPLACE FUNCTION public.wallet_entry_balanced()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    total numeric;
    legs  int;
BEGIN
    SELECT coalesce(sum(amount), 0), count(*) INTO total, legs
        FROM wallet_lines WHERE entry_id = NEW.entry_id;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'wallet entry % does not balance (% over % lines)',
            NEW.entry_id, total, legs USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$function$;
