"""What the periodic tasks run (``orders/tasks.py``): expire unpaid orders past their time;
deliver paid orders waiting for stock once keys are back, or refund them after
``KAMENG_AWAITING_STOCK_REFUND_S``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.inventory import service as inventory
from kameng_api.orders.delivery import deliver_keys
from kameng_api.orders.models import Order
from kameng_api.orders.refunds import refund
from kameng_api.orders.timeline import move
from kameng_api.settings import get_settings


async def expire_unpaid(session: AsyncSession, *, limit: int = 500) -> int:
    """Unpaid orders past their time expire (a notice arriving later still pays them)."""
    due = list(
        (
            await session.execute(
                select(Order)
                .where(Order.status == "pending_payment", Order.expires_at < clock.now())
                .order_by(Order.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for order in due:
        await move(session, order, "expired", None, "超时未支付")
    return len(due)


async def fulfil_awaiting(session: AsyncSession, *, limit: int = 100) -> tuple[int, int]:
    """Paid orders waiting for stock: deliver them once keys are back; refund them to the
    wallet once they waited ``KAMENG_AWAITING_STOCK_REFUND_S``. Returns (delivered, refunded)."""
    waiting = list(
        (
            await session.execute(
                select(Order)
                .where(Order.status == "paid", Order.awaiting_stock.is_(True))
                .order_by(Order.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    give_up = clock.now() - timedelta(seconds=get_settings().awaiting_stock_refund_s)
    delivered = refunded = 0
    for order in waiting:
        try:
            keys = await inventory.allocate(
                session, order.sku_id, order.product_id, order.quantity, order.id
            )
        except inventory.SoldOut:
            if order.paid_at is not None and order.paid_at < give_up:
                await refund(session, None, order, None, "缺货自动退款")
                refunded += 1
            continue
        order.awaiting_stock = False
        await deliver_keys(session, order, keys, None)
        delivered += 1
    return delivered, refunded
