CREATE TRIGGER wallet_lines_no_change BEFORE DELETE OR UPDATE ON wallet_lines FOR EACH ROW EXECUTE FUNCTION wallet_append_only();
