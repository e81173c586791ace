"""The filtered product list (the console's, and the shop's when ``on_sale_at`` is set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog.models import Category, Product, product_tags
from kameng_api.catalog.status import on_sale_clause


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
        q = q.where(Product.name.icontains(f.q, autoescape=True))
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
