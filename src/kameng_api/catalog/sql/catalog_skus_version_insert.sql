CREATE TRIGGER catalog_skus_version_insert AFTER INSERT ON catalog_skus REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
