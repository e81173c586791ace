"""Reading orders: one by its number scoped to the caller (404 outside it; locked for a
staff action), filtered lists, and the delivered card keys decrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import Actor
from kameng_api.core.errors import NotFound
from kameng_api.inventory import service as inventory
from kameng_api.orders.models import Order, OrderKey
from kameng_api.orders.permissions import OrdersPerm


@dataclass(frozen=True)
class DeliveredKey:
    card_no: str | None
    secret: str


async def delivered_keys(session: AsyncSession, order: Order) -> list[DeliveredKey]:
    """The order's card keys, decrypted (the buyer's own view, or a reveal)."""
    ids = list(
        (
            await session.execute(
                select(OrderKey.key_id).where(OrderKey.order_id == order.id).order_by(OrderKey.seq)
            )
        ).scalars()
    )
    return [
        DeliveredKey(k.card_no, inventory.decrypt_secret(k))
        for k in await inventory.keys_of(session, ids)
    ]


async def delivered_keys_many(
    session: AsyncSession, order_ids: list[int]
) -> dict[int, list[DeliveredKey]]:
    """The card keys of many orders, decrypted, in two queries (a batch's notices)."""
    rows = (
        await session.execute(
            select(OrderKey.order_id, OrderKey.key_id)
            .where(OrderKey.order_id.in_(order_ids))
            .order_by(OrderKey.order_id, OrderKey.seq)
        )
    ).all()
    keys = {k.id: k for k in await inventory.keys_of(session, [r.key_id for r in rows])}
    out: dict[int, list[DeliveredKey]] = {i: [] for i in order_ids}
    for r in rows:
        k = keys[r.key_id]
        out[r.order_id].append(DeliveredKey(k.card_no, inventory.decrypt_secret(k)))
    return out


def _sees_all(actor: Actor) -> bool:
    return actor.has(OrdersPerm.read)


async def get_order(
    session: AsyncSession, actor: Actor, order_no: str, *, own_only: bool = False
) -> Order:
    """An order by its number — the buyer's own, or (unless ``own_only``) any with
    ``orders:read``; 404 otherwise."""
    q = select(Order).where(Order.order_no == order_no)
    if own_only or not _sees_all(actor):
        q = q.where(Order.buyer_id == actor.user_id)
    order = (await session.execute(q)).scalar_one_or_none()
    if order is None:
        raise NotFound("No such order.", code="unknown_order")
    return order


async def lock_order(session: AsyncSession, actor: Actor, order_no: str) -> Order:
    order = await get_order(session, actor, order_no)
    await session.refresh(order, with_for_update=True)
    return order


@dataclass(frozen=True)
class OrderFilter:
    buyer_id: int | None = None
    status: str | None = None
    product_id: int | None = None
    order_no: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _orders_query(f: OrderFilter) -> Select[Order]:
    q = select(Order).order_by(Order.id.desc())
    if f.buyer_id is not None:
        q = q.where(Order.buyer_id == f.buyer_id)
    if f.status:
        q = q.where(Order.status == f.status)
    if f.product_id is not None:
        q = q.where(Order.product_id == f.product_id)
    if f.order_no:
        q = q.where(Order.order_no == f.order_no)
    if f.created_from is not None:
        q = q.where(Order.created_at >= f.created_from)
    if f.created_to is not None:
        q = q.where(Order.created_at < f.created_to)
    return q


async def list_orders(
    session: AsyncSession, f: OrderFilter, *, before: int | None = None, limit: int = 50
) -> list[Order]:
    q = _orders_query(f).limit(limit)
    if before is not None:
        q = q.where(Order.id < before)
    return list((await session.execute(q)).scalars())
