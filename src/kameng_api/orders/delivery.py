"""Delivering a paid order: card keys recorded with the order, a direct recharge handed to
the ``fulfilment:deliver`` job (its outcomes: succeeded, processing, failed → refunded; a
stuck one re-driven), a manual one filled in by staff (stored encrypted); and the staff
actions after it: resend the notice, 补发 more keys. Every delivery writes the buyer's
notice job (``fulfilment:notify``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.security import decrypt_field, encrypt_field
from kameng_api.inventory import service as inventory
from kameng_api.orders import purchase
from kameng_api.orders.errors import OrderRefused
from kameng_api.orders.models import Order, OrderEvent, OrderKey
from kameng_api.orders.refunds import refund
from kameng_api.orders.timeline import move
from kameng_api.outbox import service as outbox

DELIVER_TASK = "fulfilment:deliver"  # direct recharge at the supplier (fulfilment/tasks.py)
NOTIFY_TASK = purchase.NOTIFY_TASK  # the buyer's mail and in-app notice


async def start_delivery(session: AsyncSession, order: Order, actor_id: int | None) -> None:
    """A paid order whose goods do not come from our stock: hand a direct recharge (or card
    keys to be bought from a supplier) to the delivery job (written in this transaction, run
    after commit); a manual one waits for staff."""
    if order.delivery_type == "direct_recharge":
        await move(session, order, "delivering", actor_id, "提交上游直充")
        await outbox.enqueue(session, DELIVER_TASK, {"order_id": order.id})
    elif order.delivery_type == "card_key":  # no stock, sourced upstream (orders/sourcing.py)
        await move(session, order, "delivering", actor_id, "库存为空，向上游采购卡密")
        await outbox.enqueue(session, DELIVER_TASK, {"order_id": order.id})
    elif order.delivery_type == "manual":
        await move(session, order, "delivering", actor_id, "等待人工发货")


async def _mark_delivered(
    session: AsyncSession, order: Order, actor_id: int | None, reason: str
) -> None:
    order.delivered_qty = order.quantity
    order.delivered_at = clock.now()
    await move(session, order, "delivered", actor_id, reason)
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id})


async def deliver_keys(
    session: AsyncSession, order: Order, keys: list[int], actor_id: int | None
) -> None:
    session.add_all([OrderKey(order_id=order.id, key_id=k, seq=i) for i, k in enumerate(keys)])
    await _mark_delivered(session, order, actor_id, f"自动发卡 {len(keys)} 张")


async def upstream_keys_delivered(
    session: AsyncSession, order: Order, keys: list[int], supplier_ref: str
) -> None:
    """Card keys bought from a supplier for the order, stored (``inventory/upstream.py``):
    linked to the order and delivered. Fewer than ordered → ``partially_delivered`` and the
    rest refunded to the balance. The caller holds the order's lock (status delivering)."""
    order.supplier_ref = supplier_ref or order.supplier_ref
    session.add_all([OrderKey(order_id=order.id, key_id=k, seq=i) for i, k in enumerate(keys)])
    if len(keys) >= order.quantity:
        await _mark_delivered(
            session, order, None, f"上游采购卡密 {len(keys)} 张 {supplier_ref}".strip()
        )
        return
    order.delivered_qty = len(keys)
    order.delivered_at = clock.now()
    reason = f"上游仅交付 {len(keys)}/{order.quantity} 张 {supplier_ref}".strip()
    await move(session, order, "partially_delivered", None, reason)
    missing = order.quantity - len(keys)
    amount = min(order.unit_price * missing, order.total - order.refunded_total)
    if amount > 0:
        await refund(session, None, order, amount, f"上游缺货 {missing} 张自动退款")
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id})


def recharge_request_id(order: Order) -> str:
    """Our id for the order at the supplier: the same on every retry of one attempt, so a
    repeated call can never top up twice."""
    return f"{order.order_no}-{order.delivery_attempt}"


async def recharge_succeeded(session: AsyncSession, order: Order, supplier_ref: str) -> None:
    """The supplier topped up (the caller holds the order's lock; status is delivering)."""
    order.supplier_ref = supplier_ref or order.supplier_ref
    await _mark_delivered(session, order, None, f"上游充值成功 {supplier_ref}".strip())


async def recharge_processing(session: AsyncSession, order: Order, supplier_ref: str) -> None:
    if supplier_ref and order.supplier_ref != supplier_ref:
        order.supplier_ref = supplier_ref
        session.add(
            OrderEvent(
                order_id=order.id,
                from_status=order.status,
                to_status=order.status,
                reason=f"上游处理中 {supplier_ref}"[:255],
            )
        )


async def delivery_failed(session: AsyncSession, order: Order, reason: str) -> None:
    """The goods cannot be delivered: the order fails and the buyer gets the money back to
    the balance at once (失败自动退款), then a notice."""
    await move(session, order, "failed", None, reason)
    await refund(session, None, order, None, "发货失败自动退款")
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id})


async def redrive(session: AsyncSession, order: Order, reason: str) -> None:
    """Start a stuck direct recharge's delivery job again (it asks the supplier first)."""
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=order.status,
            to_status=order.status,
            reason=reason[:255],
        )
    )
    order.updated_at = clock.now()
    await outbox.enqueue(session, DELIVER_TASK, {"order_id": order.id, "query_first": True})


def _content_aad(order: Order) -> str:
    return f"order:{order.id}:delivery"


def delivery_content(order: Order) -> str | None:
    """What staff delivered for a manual order (decrypted; the buyer's view)."""
    if order.delivery_content is None:
        return None
    return decrypt_field(order.delivery_content, aad=_content_aad(order))


async def deliver_manually(
    session: AsyncSession, actor: Actor, order: Order, content: str, note: str
) -> Order:
    """人工发货: staff fill in what the buyer gets (an account, a code, a note); it is stored
    encrypted, the order is delivered and the buyer notified. The caller holds the lock."""
    if order.delivery_type != "manual" or order.status != "delivering":
        raise OrderRefused(
            "只有等待人工发货的订单可以发货 (not waiting for manual delivery)",
            code="not_awaiting_delivery",
            status=409,
        )
    order.delivery_content = encrypt_field(content, aad=_content_aad(order))
    await _mark_delivered(session, order, actor.user_id, f"人工发货 {note}".strip())
    await audit.record(
        session,
        "orders.deliver",
        actor=actor,
        target_type="order",
        target_id=order.order_no,
        after={"status": order.status, "content_chars": len(content)},  # never the content
        detail=note,
    )
    return order


async def resend_notice(session: AsyncSession, actor: Actor, order: Order) -> None:
    """重发通知: mail the buyer the delivery again (lost mail, changed address)."""
    if order.status not in ("delivered", "partially_delivered", "failed", "refunded"):
        raise OrderRefused(
            "订单尚未发货，没有可重发的通知 (nothing delivered yet)",
            code="nothing_to_resend",
            status=409,
        )
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id, "resend": True})
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=order.status,
            to_status=order.status,
            actor_id=actor.user_id,
            reason="重发通知",
        )
    )
    await audit.record(
        session, "orders.resend", actor=actor, target_type="order", target_id=order.order_no
    )


async def redeliver(
    session: AsyncSession, actor: Actor, order: Order, quantity: int, reason: str
) -> list[int]:
    """补发: give the buyer more keys from stock (a key did not work), recorded with the
    order's keys and in the timeline. The caller holds the order's lock."""
    if order.delivery_type != "card_key" or order.status not in (
        "delivered",
        "partially_delivered",
    ):
        raise OrderRefused(
            "只有已发卡的卡密订单可以补发 (only delivered card-key orders)",
            code="not_redeliverable",
            status=409,
        )
    if not 1 <= quantity <= order.quantity:
        raise OrderRefused(f"补发数量须在 1–{order.quantity} 之间", code="quantity_out_of_range")
    keys = await inventory.allocate(session, order.sku_id, order.product_id, quantity, order.id)
    seq = (
        await session.execute(
            select(func.coalesce(func.max(OrderKey.seq), -1)).where(OrderKey.order_id == order.id)
        )
    ).scalar_one()
    session.add_all(
        [OrderKey(order_id=order.id, key_id=k, seq=seq + 1 + i) for i, k in enumerate(keys)]
    )
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=order.status,
            to_status=order.status,
            actor_id=actor.user_id,
            reason=f"补发 {len(keys)} 张: {reason}"[:255],
        )
    )
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id})  # mail all keys again
    await audit.record(
        session,
        "orders.redeliver",
        actor=actor,
        target_type="order",
        target_id=order.order_no,
        after={"keys": len(keys)},
        detail=reason,
    )
    return keys
