CREATE TRIGGER catalog_products_version_delete AFTER DELETE ON catalog_products REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
