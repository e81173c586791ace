"""Catalog rules: two-level categories, products with SKUs and prices, price sanity, what the
shop shows. Prices are computed only by ``catalog.pricing``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import nh3
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import pricing
from kameng_api.catalog.models import (
    CatalogVersion,
    Category,
    Product,
    Sku,
    SkuAudiencePrice,
    SkuTierPrice,
    product_tags,
)
from kameng_api.catalog.schemas import CategoryIn, CategoryPatch, ProductIn, SkuIn
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, Conflict, Forbidden, NotFound


class PriceBelowCost(AppError):
    status = 422
    code = "price_below_cost"
    title = "Price below cost"


class UnknownCategory(AppError):
    status = 422
    code = "unknown_category"
    title = "Unknown category"


# ---- categories -----------------------------------------------------------------------------


async def category_tree(session: AsyncSession, *, shop: bool = False) -> list[dict[str, Any]]:
    """Top-level categories with their children, sorted; ``shop``: visible ones with products
    on sale (counted)."""
    now = clock.now()
    counts_q = select(Product.category_id, func.count()).group_by(Product.category_id)
    if shop:
        counts_q = counts_q.where(on_sale_clause(now))
    counts: dict[int, int] = dict((await session.execute(counts_q)).all())
    q = select(Category).order_by(Category.sort, Category.id)
    if shop:
        q = q.where(Category.visible.is_(True))
    rows = list((await session.execute(q)).scalars())
    nodes: dict[int, dict[str, Any]] = {
        c.id: {
            "id": c.id,
            "parent_id": c.parent_id,
            "name": c.name,
            "icon": c.icon,
            "sort": c.sort,
            "visible": c.visible,
            "product_count": int(counts.get(c.id, 0)),
            "children": [],
        }
        for c in rows
    }
    roots = []
    for c in rows:
        node = nodes[c.id]
        if c.parent_id is None:
            roots.append(node)
        elif c.parent_id in nodes:
            nodes[c.parent_id]["children"].append(node)
            nodes[c.parent_id]["product_count"] += node["product_count"]
    if shop:
        roots = [r for r in roots if r["product_count"] > 0]
        for r in roots:
            r["children"] = [ch for ch in r["children"] if ch["product_count"] > 0]
    return roots


async def get_category(session: AsyncSession, category_id: int) -> Category:
    cat = await session.get(Category, category_id)
    if cat is None:
        raise NotFound("No such category.")
    return cat


async def create_category(session: AsyncSession, actor: Actor, data: CategoryIn) -> Category:
    if data.parent_id is not None:
        parent = await session.get(Category, data.parent_id)
        if parent is None:
            raise UnknownCategory("The parent category does not exist.")
        if parent.parent_id is not None:
            raise Conflict("Categories have two levels only.", code="category_too_deep")
    await _name_free(session, data.parent_id, data.name)
    cat = Category(**data.model_dump())
    session.add(cat)
    await session.flush()
    await audit.record(
        session,
        "catalog.category_create",
        actor=actor,
        target_type="category",
        target_id=cat.id,
        after=data.model_dump(),
    )
    return cat


async def _name_free(
    session: AsyncSession, parent_id: int | None, name: str, but: int | None = None
) -> None:
    q = select(Category.id).where(
        Category.name == name,
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
    )
    if but is not None:
        q = q.where(Category.id != but)
    if (await session.execute(q)).first():
        raise Conflict("A category with this name exists here.", code="category_name_taken")


async def update_category(
    session: AsyncSession, actor: Actor, category_id: int, data: CategoryPatch
) -> Category:
    cat = await get_category(session, category_id)
    before = _category_snapshot(cat)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        await _name_free(session, cat.parent_id, changes["name"], but=cat.id)
    for k, v in changes.items():
        setattr(cat, k, v)
    await session.flush()
    await audit.record(
        session,
        "catalog.category_update",
        actor=actor,
        target_type="category",
        target_id=cat.id,
        before=before,
        after=_category_snapshot(cat),
    )
    return cat


def _category_snapshot(c: Category) -> dict[str, Any]:
    return {"name": c.name, "icon": c.icon, "sort": c.sort, "visible": c.visible}


async def delete_category(session: AsyncSession, actor: Actor, category_id: int) -> None:
    cat = await get_category(session, category_id)
    children = (
        await session.execute(select(func.count()).where(Category.parent_id == cat.id))
    ).scalar_one()
    products = (
        await session.execute(select(func.count()).where(Product.category_id == cat.id))
    ).scalar_one()
    if children or products:
        raise Conflict(
            f"The category still has {children} sub-categories and {products} products.",
            code="category_not_empty",
        )
    await session.delete(cat)
    await audit.record(
        session,
        "catalog.category_delete",
        actor=actor,
        target_type="category",
        target_id=category_id,
        before=_category_snapshot(cat),
    )


# ---- products -------------------------------------------------------------------------------


def on_sale_clause(now: datetime) -> Any:
    """SQL: the product is shown in the shop at ``now``: listed and not past its unlist time,
    or scheduled and inside its window. Exact to the second; the periodic
    ``catalog:apply_schedules`` only makes the stored status catch up."""
    not_ended = or_(Product.unlist_at.is_(None), Product.unlist_at > now)
    started = or_(Product.list_at.is_(None), Product.list_at <= now)
    return ((Product.status == "listed") & not_ended) | (
        (Product.status == "scheduled") & started & not_ended
    )


def is_on_sale(p: Product, now: datetime) -> bool:
    not_ended = p.unlist_at is None or p.unlist_at > now
    if p.status == "listed":
        return not_ended
    if p.status != "scheduled":
        return False
    return (p.list_at is None or p.list_at <= now) and not_ended


async def apply_schedules(session: AsyncSession, now: datetime) -> tuple[list[int], list[int]]:
    """Scheduled products whose list time came become ``listed``; listed or scheduled ones
    whose unlist time passed become ``unlisted``. Returns (listed ids, unlisted ids)."""
    ended = await session.execute(
        update(Product)
        .where(
            Product.status.in_(("listed", "scheduled")),
            Product.unlist_at.is_not(None),
            Product.unlist_at <= now,
        )
        .values(status="unlisted", version=Product.version + 1, updated_at=now)
        .returning(Product.id)
    )
    unlisted = list(ended.scalars())
    started = await session.execute(
        update(Product)
        .where(
            Product.status == "scheduled",
            or_(Product.list_at.is_(None), Product.list_at <= now),
        )
        .values(status="listed", version=Product.version + 1, updated_at=now)
        .returning(Product.id)
    )
    listed = list(started.scalars())
    for action, ids in (("catalog.auto_list", listed), ("catalog.auto_unlist", unlisted)):
        if ids:
            await audit.record(
                session,
                action,
                actor=None,
                target_type="product",
                after={"product_ids": ids, "at": now.isoformat()},
                detail="schedule",
            )
    return listed, unlisted


def sanitize_html(html: str) -> str:
    """Rich text from the editor, without scripts, event handlers or javascript: links."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto"})


def sku_prices(sku: SkuIn) -> pricing.SkuPrices:
    return pricing.SkuPrices(
        base=sku.base_price,
        member=dict(sku.member_prices),
        reseller=dict(sku.reseller_prices),
        tiers=dict(sku.tier_prices),
    )


@dataclass
class Saved:
    product: Product
    warnings: list[tuple[str, pricing.PriceWarning]]


def check_prices(data: ProductIn) -> list[tuple[str, pricing.PriceWarning]]:
    """Refuse prices below cost unless confirmed; return the market hints."""
    problems: list[tuple[str, pricing.PriceWarning]] = []
    hints: list[tuple[str, pricing.PriceWarning]] = []
    for sku in data.skus:
        below, near = pricing.price_checks(sku_prices(sku), sku.cost_price, sku.market_price)
        problems += [(sku.name, w) for w in below]
        hints += [(sku.name, w) for w in near]
    if problems and not data.confirm_below_cost:
        detail = "; ".join(f"{name} {w.price_label}: {w.message_en}" for name, w in problems)
        raise PriceBelowCost(
            f"{detail}. Send confirm_below_cost=true to save anyway.",
        )
    return problems + hints


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
    await _write_tags(session, product.id, data.tags)
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
    await _write_tags(session, product.id, data.tags)
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


async def _write_tags(session: AsyncSession, product_id: int, tags: list[str]) -> None:
    await session.execute(delete(product_tags).where(product_tags.c.product_id == product_id))
    clean = sorted({t.strip() for t in tags if t.strip()})
    if clean:
        await session.execute(
            insert(product_tags), [{"product_id": product_id, "tag": t} for t in clean]
        )


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


async def tags_of(session: AsyncSession, product_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in product_ids}
    if product_ids:
        rows = await session.execute(
            select(product_tags.c.product_id, product_tags.c.tag)
            .where(product_tags.c.product_id.in_(product_ids))
            .order_by(product_tags.c.tag)
        )
        for pid, tag in rows:
            out[pid].append(tag)
    return out


async def load_prices(session: AsyncSession, sku_ids: list[int]) -> dict[int, pricing.SkuPrices]:
    """Price snapshots for the pricing function."""
    if not sku_ids:
        return {}
    rows = await session.execute(select(Sku.id, Sku.base_price).where(Sku.id.in_(sku_ids)))
    bases: dict[int, Decimal] = dict(rows.all())
    member: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    reseller: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    tiers: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    for a in (
        await session.execute(select(SkuAudiencePrice).where(SkuAudiencePrice.sku_id.in_(sku_ids)))
    ).scalars():
        (member if a.audience == "member" else reseller)[a.sku_id][a.level] = a.price
    for t in (
        await session.execute(select(SkuTierPrice).where(SkuTierPrice.sku_id.in_(sku_ids)))
    ).scalars():
        tiers[t.sku_id][t.min_qty] = t.price
    return {
        i: pricing.SkuPrices(bases[i], member[i], reseller[i], tiers[i])
        for i in sku_ids
        if i in bases
    }


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


@dataclass(frozen=True)
class ProductFilter:
    category_id: int | None = None
    status: str | None = None
    q: str | None = None
    tag: str | None = None
    on_sale_at: datetime | None = None  # only what the shop shows at that moment


async def list_products(
    session: AsyncSession, f: ProductFilter, *, before_id: int | None, limit: int
) -> Sequence[Product]:
    q = select(Product)
    if f.category_id is not None:
        sub = select(Category.id).where(
            or_(Category.id == f.category_id, Category.parent_id == f.category_id)
        )
        q = q.where(Product.category_id.in_(sub))
    if f.status:
        q = q.where(Product.status == f.status)
    if f.q:
        q = q.where(Product.name.ilike(f"%{_like_escape(f.q)}%", escape="\\"))
    if f.tag:
        q = q.where(
            Product.id.in_(select(product_tags.c.product_id).where(product_tags.c.tag == f.tag))
        )
    if f.on_sale_at is not None:
        visible = select(Category.id).where(Category.visible.is_(True))
        q = q.where(on_sale_clause(f.on_sale_at), Product.category_id.in_(visible))
    if before_id is not None:
        q = q.where(Product.id < before_id)
    return (await session.execute(q.order_by(Product.id.desc()).limit(limit))).scalars().all()


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def bulk_status(
    session: AsyncSession, actor: Actor, product_ids: list[int], status: str
) -> int:
    ids = sorted(set(product_ids))
    res = await session.execute(
        update(Product)
        .where(Product.id.in_(ids), Product.status != status)
        .values(status=status, version=Product.version + 1, updated_at=clock.now())
        .returning(Product.id)
    )
    changed = list(res.scalars())
    await audit.record(
        session,
        "catalog.product_bulk_status",
        actor=actor,
        target_type="product",
        target_id=",".join(map(str, changed))[:64] or None,
        after={"status": status, "product_ids": changed},
    )
    return len(changed)


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


async def buyer(session: AsyncSession, user_id: int | None) -> pricing.Buyer:
    """Who is buying, as the pricing function sees them (``None``: a guest)."""
    if user_id is None:
        return pricing.Buyer.guest()
    from kameng_api.identity import service as identity

    user = await identity.get_user(session, user_id)
    return pricing.Buyer(
        kind=UserKind(user.kind), member_level=user.member_level, reseller_tier=user.reseller_tier
    )


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


# buyers as pricing sees them, read on the lane's own connection (asyncpg)
BUYERS_SQL = "SELECT id, kind, member_level, reseller_tier FROM users WHERE id = ANY($1)"


async def quote_sku(
    session: AsyncSession, sku_id: int, user_id: int | None, quantity: int
) -> pricing.Quote:
    """What this buyer pays for ``quantity`` of this SKU — the one answer orders use."""
    prices = await load_prices(session, [sku_id])
    return pricing.quote(prices[sku_id], await buyer(session, user_id), quantity)
