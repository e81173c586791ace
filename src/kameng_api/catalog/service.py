"""Catalog rules: two-level categories, products with SKUs and prices, price sanity, what the
shop shows. Prices are computed only by ``catalog.pricing``.

This module is the capability's front door: callers use ``catalog.<name>`` from here. Each
job lives in its own module:

- ``categories.py``    the two-level category tree: read (console and shop), create, rename,
                       delete when empty
- ``products.py``      products and their SKUs: create, update (who may change prices, what
                       the operation log records), read a product, its SKUs, one SKU; the
                       card-key products that take imports
- ``tags.py``          product tags: replace a product's tags, read the tags of many
- ``price_checks.py``  price sanity on save: below cost refused unless confirmed, market hints
- ``prices.py``        stored prices and buyers as ``catalog.pricing`` sees them; the quote
- ``status.py``        when a product is on sale (SQL and Python), the list/unlist schedule,
                       bulk status changes
- ``listing.py``       the filtered product list (console, and the shop's on-sale view)
- ``shop.py``          what buyers see: shop list and product, a SKU for sale, the sale
                       snapshot the purchase lane keeps
- ``errors.py``        the capability's errors
"""

from __future__ import annotations

from kameng_api.catalog.categories import (
    category_tree,
    create_category,
    delete_category,
    get_category,
    update_category,
)
from kameng_api.catalog.errors import PriceBelowCost, UnknownCategory
from kameng_api.catalog.listing import ProductFilter, list_products
from kameng_api.catalog.price_checks import check_prices, sku_prices
from kameng_api.catalog.prices import BUYERS_SQL, buyer, load_prices, quote_sku
from kameng_api.catalog.products import (
    Saved,
    card_key_products,
    create_product,
    get_product,
    get_sku,
    product_snapshot,
    sanitize_html,
    skus_of,
    update_product,
)
from kameng_api.catalog.shop import (
    SaleSnapshot,
    sale_snapshot,
    shop_product,
    shop_products,
    sku_for_sale,
)
from kameng_api.catalog.status import apply_schedules, bulk_status, is_on_sale, on_sale_clause
from kameng_api.catalog.tags import tags_of

__all__ = [
    "BUYERS_SQL",
    "PriceBelowCost",
    "ProductFilter",
    "SaleSnapshot",
    "Saved",
    "UnknownCategory",
    "apply_schedules",
    "bulk_status",
    "buyer",
    "card_key_products",
    "category_tree",
    "check_prices",
    "create_category",
    "create_product",
    "delete_category",
    "get_category",
    "get_product",
    "get_sku",
    "is_on_sale",
    "list_products",
    "load_prices",
    "on_sale_clause",
    "product_snapshot",
    "quote_sku",
    "sale_snapshot",
    "sanitize_html",
    "shop_product",
    "shop_products",
    "sku_for_sale",
    "sku_prices",
    "skus_of",
    "tags_of",
    "update_category",
    "update_product",
]
