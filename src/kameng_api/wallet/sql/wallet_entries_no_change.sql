CREATE TRIGGER wallet_entries_no_change BEFORE DELETE OR UPDATE ON wallet_entries FOR EACH ROW EXECUTE FUNCTION wallet_append_only();
