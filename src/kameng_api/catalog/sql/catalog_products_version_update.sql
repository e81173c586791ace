CREATE TRIGGER catalog_products_version_update AFTER UPDATE ON catalog_products REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
