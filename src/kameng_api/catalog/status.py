"""When a product is on sale: the rule (as SQL and in Python), the list/unlist schedule that
makes the stored status catch up, and bulk status changes from the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog.models import Product
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock


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
