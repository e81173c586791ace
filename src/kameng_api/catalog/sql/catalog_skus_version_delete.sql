CREATE TRIGGER catalog_skus_version_delete AFTER DELETE ON catalog_skus REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
