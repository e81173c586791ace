"""Refunds (退款) to the buyer's balance, in part or in full; a full refund makes the order
``refunded``."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.orders.errors import OrderRefused
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.timeline import move
from kameng_api.wallet import service as wallet

REFUNDABLE = ("paid", "delivering", "delivered", "partially_delivered", "failed")


async def refund(
    session: AsyncSession,
    actor: Actor | None,
    order: Order,
    amount: Decimal | None,
    reason: str,
) -> Order:
    """Give money back to the buyer's wallet (退款): all that is left when ``amount`` is
    None, else part of it. Once fully refunded the order is ``refunded``. The caller holds
    the order's row lock."""
    if order.status not in REFUNDABLE:
        raise OrderRefused(
            f"订单状态为 {order.status}，不能退款 (not refundable in this state)",
            code="not_refundable",
            status=409,
        )
    left = order.total - order.refunded_total
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise OrderRefused(f"退款金额须在 0–{left} 之间 (0 < amount ≤ {left})", code="bad_amount")
    n = (
        await session.execute(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.reason.like("退款%"))
        )
    ).scalar_one()
    await wallet.refund(
        session,
        order.buyer_id,
        amount,
        ref=f"order:{order.order_no}:{n + 1}",
        memo=f"退款 {order.order_no}",
        actor_id=None if actor is None else actor.user_id,
    )
    order.refunded_total += amount
    actor_id = None if actor is None else actor.user_id
    if order.refunded_total == order.total:
        order.awaiting_stock = False
        await move(session, order, "refunded", actor_id, f"退款 {amount}: {reason}")
    else:
        session.add(
            OrderEvent(
                order_id=order.id,
                from_status=order.status,
                to_status=order.status,
                actor_id=actor_id,
                reason=f"退款 {amount}: {reason}"[:255],
            )
        )
    await audit.record(
        session,
        "orders.refund",
        actor=actor,
        target_type="order",
        target_id=order.order_no,
        after={"amount": format(amount, "f"), "refunded_total": format(order.refunded_total, "f")},
        risk="high",
        detail=reason,
    )
    return order
