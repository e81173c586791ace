"""Products and their SKUs: create and update (tags, SKU prices, who may change prices, what
the operation log records), read a product, its SKUs or one SKU (whatever their status), the
card-key products that take imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import pricing
from kameng_api.catalog.errors import UnknownCategory
from kameng_api.catalog.models import Category, Product, Sku, SkuAudiencePrice, SkuTierPrice
from kameng_api.catalog.price_checks import check_prices
from kameng_api.catalog.prices import load_prices
from kameng_api.catalog.schemas import ProductIn, SkuIn
from kameng_api.catalog.tags import write_tags
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import Conflict, Forbidden, NotFound


def sanitize_html(html: str) -> str:
    """Rich text from the editor, without scripts, event handlers or javascript: links."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto"})


@dataclass
class Saved:
    product: Product
    warnings: list[tuple[str, pricing.PriceWarning]]


async def _check_category(session: AsyncSession, category_id: int) -> None:
    if await session.get(Category, category_id) is None:
        raise UnknownCategory(f"Category {category_id} does not exist.")


def _product_fields(data: ProductIn) -> dict[str, Any]:
    fields = data.model_dump(exclude={"skus", "tags", "confirm_below_cost"})
    fields["description_html"] = sanitize_html(data.description_html)
    fields["buyer_fields"] = [f.model_dump() for f in data.buyer_fields]
    return fields


async def create_product(session: AsyncSession, actor: Actor, data: ProductIn) -> Saved:
    if not actor.has("catalog:pricing"):
        raise Forbidden("Setting prices needs catalog:pricing.", code="permission_denied")
    await _check_category(session, data.category_id)
    warnings = check_prices(data)
    product = Product(**_product_fields(data))
    session.add(product)
    await session.flush()
    await write_tags(session, product.id, data.tags)
    for sku in data.skus:
        if sku.id is not None:
            raise Conflict("A new product cannot reuse SKU ids.", code="sku_not_found")
        await _write_sku(session, product.id, sku, None)
    await audit.record(
        session,
        "catalog.product_create",
        actor=actor,
        target_type="product",
        target_id=product.id,
        after=_input_snapshot(data),
    )
    return Saved(product, warnings)


async def update_product(
    session: AsyncSession, actor: Actor, product_id: int, data: ProductIn
) -> Saved:
    product = await get_product(session, product_id, lock=True)
    await _check_category(session, data.category_id)
    before = await product_snapshot(session, product)
    existing = {s.id: s for s in await skus_of(session, product.id)}
    unknown = [s.id for s in data.skus if s.id is not None and s.id not in existing]
    if unknown:
        raise NotFound(f"No such SKU in this product: {unknown}")
    # a SKU sent without id but with the name of an existing one is that SKU
    by_name = {s.name: s.id for s in existing.values()}
    data = data.model_copy(
        update={
            "skus": [
                s
                if s.id is not None or s.name not in by_name
                else s.model_copy(update={"id": by_name[s.name]})
                for s in data.skus
            ]
        }
    )
    old_prices = await load_prices(session, list(existing))
    price_change = any(
        s.id is None or _prices_of_input(s) != _prices_of_row(existing[s.id], old_prices[s.id])
        for s in data.skus
    )
    if price_change and not actor.has("catalog:pricing"):
        raise Forbidden("Changing prices needs catalog:pricing.", code="permission_denied")
    warnings = check_prices(data)
    for k, v in _product_fields(data).items():
        setattr(product, k, v)
    product.version += 1
    product.updated_at = clock.now()
    await write_tags(session, product.id, data.tags)
    kept = set()
    for sku in data.skus:
        row = await _write_sku(session, product.id, sku, existing.get(sku.id or -1))
        kept.add(row.id)
    # SKUs left out are deactivated, not deleted: orders keep pointing at them
    gone = set(existing) - kept
    if gone:
        await session.execute(update(Sku).where(Sku.id.in_(gone)).values(active=False))
    await session.flush()
    await audit.record(
        session,
        "catalog.product_update",
        actor=actor,
        target_type="product",
        target_id=product.id,
        before=before,
        after=_input_snapshot(data),
        risk="medium" if price_change else "low",
    )
    return Saved(product, warnings)


def _prices_of_input(s: SkuIn) -> tuple[Any, ...]:
    return (
        s.base_price,
        s.cost_price,
        s.market_price,
        dict(s.member_prices),
        dict(s.reseller_prices),
        dict(s.tier_prices),
    )


def _prices_of_row(row: Sku, p: pricing.SkuPrices) -> tuple[Any, ...]:
    return (row.base_price, row.cost_price, row.market_price, p.member, p.reseller, p.tiers)


async def _write_sku(session: AsyncSession, product_id: int, data: SkuIn, row: Sku | None) -> Sku:
    fields = {
        "name": data.name,
        "attrs": dict(data.attrs),
        "base_price": data.base_price,
        "cost_price": data.cost_price,
        "market_price": data.market_price,
        "active": data.active,
        "sort": data.sort,
    }
    if row is None:
        row = Sku(product_id=product_id, **fields)
        session.add(row)
    else:
        for k, v in fields.items():
            setattr(row, k, v)
    await session.flush()
    await session.execute(delete(SkuAudiencePrice).where(SkuAudiencePrice.sku_id == row.id))
    await session.execute(delete(SkuTierPrice).where(SkuTierPrice.sku_id == row.id))
    audience = [
        {"sku_id": row.id, "audience": "member", "level": k, "price": v}
        for k, v in data.member_prices.items()
    ] + [
        {"sku_id": row.id, "audience": "reseller", "level": k, "price": v}
        for k, v in data.reseller_prices.items()
    ]
    if audience:
        await session.execute(insert(SkuAudiencePrice), audience)
    tiers = [{"sku_id": row.id, "min_qty": k, "price": v} for k, v in data.tier_prices.items()]
    if tiers:
        await session.execute(insert(SkuTierPrice), tiers)
    return row


def _input_snapshot(data: ProductIn) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude={"description_html", "confirm_below_cost"})


async def get_product(session: AsyncSession, product_id: int, *, lock: bool = False) -> Product:
    product = await session.get(Product, product_id, with_for_update=lock)
    if product is None:
        raise NotFound("No such product.")
    return product


async def skus_of(session: AsyncSession, product_id: int) -> Sequence[Sku]:
    q = select(Sku).where(Sku.product_id == product_id).order_by(Sku.sort, Sku.id)
    return (await session.execute(q)).scalars().all()


async def product_snapshot(session: AsyncSession, p: Product) -> dict[str, Any]:
    skus = await skus_of(session, p.id)
    prices = await load_prices(session, [s.id for s in skus])
    return {
        "name": p.name,
        "status": p.status,
        "category_id": p.category_id,
        "skus": [
            {
                "id": s.id,
                "name": s.name,
                "base_price": str(s.base_price),
                "cost_price": str(s.cost_price),
                "member_prices": {k: str(v) for k, v in prices[s.id].member.items()},
                "reseller_prices": {k: str(v) for k, v in prices[s.id].reseller.items()},
                "tier_prices": {k: str(v) for k, v in prices[s.id].tiers.items()},
                "active": s.active,
            }
            for s in skus
        ],
    }


async def get_sku(session: AsyncSession, sku_id: int) -> tuple[Sku, Product]:
    """A SKU and its product, whatever their status (the console's view)."""
    sku = await session.get(Sku, sku_id)
    if sku is None:
        raise NotFound("No such SKU.")
    return sku, await get_product(session, sku.product_id)


async def card_key_products(session: AsyncSession) -> list[tuple[Product, list[Sku]]]:
    """Products delivered from card-key stock, with their active SKUs (import targets)."""
    products = (
        (
            await session.execute(
                select(Product)
                .where(Product.delivery_type == "card_key")
                .order_by(Product.sort, Product.id)
            )
        )
        .scalars()
        .all()
    )
    ids = [p.id for p in products]
    skus: dict[int, list[Sku]] = {i: [] for i in ids}
    if ids:
        q = select(Sku).where(Sku.product_id.in_(ids), Sku.active.is_(True))
        for s in (await session.execute(q.order_by(Sku.sort, Sku.id))).scalars():
            skus[s.product_id].append(s)
    return [(p, skus[p.id]) for p in products]
