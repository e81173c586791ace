"""Categories: two levels, names unique among siblings; the tree for the console and for the
shop (visible categories with products on sale, counted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog.errors import UnknownCategory
from kameng_api.catalog.models import Category, Product
from kameng_api.catalog.schemas import CategoryIn, CategoryPatch
from kameng_api.catalog.status import on_sale_clause
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import Conflict, NotFound


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
