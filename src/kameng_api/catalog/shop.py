"""What buyers see: the shop's product list and product, a SKU for sale, and the sale
snapshot the purchase lane keeps while the catalogue version holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import pricing
from kameng_api.catalog.listing import ProductFilter, list_products
from kameng_api.catalog.models import CatalogVersion, Product, Sku
from kameng_api.catalog.prices import load_prices
from kameng_api.catalog.status import is_on_sale
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound


async def shop_products(
    session: AsyncSession, *, category_id: int | None, q: str | None, tag: str | None
) -> Sequence[Product]:
    f = ProductFilter(category_id=category_id, q=q, tag=tag, on_sale_at=clock.now())
    return await list_products(session, f, before_id=None, limit=500)


async def shop_product(session: AsyncSession, product_id: int) -> Product:
    """The product if the shop shows it; 404 otherwise (unlisted products do not exist for
    buyers)."""
    product = await session.get(Product, product_id)
    if product is None or not is_on_sale(product, clock.now()):
        raise NotFound("No such product.")
    return product


async def sku_for_sale(session: AsyncSession, sku_id: int) -> tuple[Sku, Product]:
    sku = await session.get(Sku, sku_id)
    if sku is None or not sku.active:
        raise NotFound("No such SKU.")
    return sku, await shop_product(session, sku.product_id)


@dataclass(frozen=True)
class SaleSnapshot:
    """A SKU for sale as the purchase lane keeps it: valid while the catalogue version is."""

    version: int
    sku: Sku
    product: Product
    prices: pricing.SkuPrices


async def sale_snapshot(session: AsyncSession, sku_id: int) -> SaleSnapshot | None:
    """The SKU, its product and prices, with the catalogue version read *first* (a change
    committed in between makes the snapshot look stale, never fresh)."""
    version = (await session.execute(select(CatalogVersion.version))).scalar_one()
    sku = await session.get(Sku, sku_id)
    if sku is None:
        return None
    product = await session.get(Product, sku.product_id)
    assert product is not None
    prices = await load_prices(session, [sku_id])
    return SaleSnapshot(version, sku, product, prices[sku_id])
