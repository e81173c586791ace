"""Paying for an order: by balance (goods not from our stock), by a gateway's confirmation,
or confirmed by staff (手动确认收款). Money booked once per order; a paid order then goes
to delivery — or, if the card keys ran out meanwhile, waits for stock."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.inventory import service as inventory
from kameng_api.orders import sourcing
from kameng_api.orders.delivery import deliver_keys, start_delivery
from kameng_api.orders.errors import OrderRefused
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.timeline import move
from kameng_api.wallet import service as wallet


async def pay_by_balance(session: AsyncSession, order: Order, actor: Actor) -> None:
    """Goods that do not come from our stock (direct recharge, manual), paid by balance;
    card keys go through ``placing._buy_card_keys``."""
    await wallet.charge(
        session,
        order.buyer_id,
        order.total,
        order_id=order.id,
        order_no=order.order_no,
        memo=f"购买 {order.product_name}",
    )
    order.pay_method = "balance"
    order.paid_at = clock.now()
    await move(session, order, "paid", actor.user_id, "余额支付")
    await start_delivery(session, order, actor.user_id)


async def paid_by_gateway(session: AsyncSession, order_id: int, payment_id: int) -> Order:
    """A gateway confirmed the order's payment (called once per payment, under its lock)."""
    order = await session.get(Order, order_id, with_for_update=True)
    assert order is not None
    if order.status in ("pending_payment", "expired"):
        await _paid_outside(
            session, order, payment_id=payment_id, actor_id=None, reason="易支付到账"
        )
    return order  # else paid already (e.g. confirmed by staff): the booking is once per order


async def confirm_paid(session: AsyncSession, actor: Actor, order: Order, reason: str) -> Order:
    """Staff saw the money arrive (the gateway's back office, a transfer) but no notice came
    (手动确认收款): pay and deliver as a notice would. Step-up; audited. The caller holds the
    order's lock."""
    if order.status not in ("pending_payment", "expired"):
        raise OrderRefused(
            f"订单状态为 {order.status}，无需确认收款 (not waiting for payment)",
            code="not_awaiting_payment",
            status=409,
        )
    await _paid_outside(
        session, order, payment_id=None, actor_id=actor.user_id, reason=f"手动确认收款: {reason}"
    )
    await audit.record(
        session,
        "orders.confirm_paid",
        actor=actor,
        target_type="order",
        target_id=order.order_no,
        after={"total": format(order.total, "f"), "status": order.status},
        risk="high",
        detail=reason,
    )
    return order


async def _paid_outside(
    session: AsyncSession,
    order: Order,
    *,
    payment_id: int | None,
    actor_id: int | None,
    reason: str,
) -> None:
    """Money for the order arrived outside the wallet: book it, mark the order paid and
    deliver — or, if the keys ran out meanwhile, buy them from a supplier (a SKU sourced
    upstream: ``orders/sourcing.py``) or leave it paid and awaiting stock."""
    await wallet.gateway_purchase(
        session,
        order.total,
        order_id=order.id,
        payment_id=payment_id,
        order_no=order.order_no,
        memo=f"购买 {order.product_name}",
    )
    order.pay_method = order.pay_method or "epay"
    order.paid_at = clock.now()
    await move(session, order, "paid", actor_id, reason)
    if order.delivery_type == "card_key":
        try:
            keys = await inventory.allocate(
                session, order.sku_id, order.product_id, order.quantity, order.id
            )
        except inventory.SoldOut:
            if await sourcing.sourced(session, order.sku_id):  # bought from a supplier
                await start_delivery(session, order, actor_id)
                return
            order.awaiting_stock = True
            session.add(
                OrderEvent(
                    order_id=order.id,
                    from_status="paid",
                    to_status="paid",
                    reason="库存不足，等待补货",
                )
            )
        else:
            await deliver_keys(session, order, keys, actor_id)
    else:
        await start_delivery(session, order, actor_id)
