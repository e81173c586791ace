CREATE TRIGGER wallet_lines_no_truncate BEFORE TRUNCATE ON wallet_lines FOR EACH STATEMENT EXECUTE FUNCTION wallet_append_only();
