"""Catalog: two-level categories, products with SKUs and prices, and what the shop shows."""
