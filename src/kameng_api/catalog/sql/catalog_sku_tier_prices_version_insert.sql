CREATE TRIGGER catalog_sku_tier_prices_version_insert AFTER INSERT ON catalog_sku_tier_prices REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
