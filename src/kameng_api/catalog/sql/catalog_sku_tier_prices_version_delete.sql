CREATE TRIGGER catalog_sku_tier_prices_version_delete AFTER DELETE ON catalog_sku_tier_prices REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION kameng_catalog_rows_changed();
