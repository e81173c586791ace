"""Orders placed through the open API, keyed by the reseller's ``out_trade_no``.

Placing one is the shop's own purchase (``orders.create_order``: price from the pricing
function, buyer input, limits, and for card keys the one-call ``kameng_purchase``), paid
from the reseller's wallet, plus an ``open_orders`` row in the same transaction. A
transaction lock per (reseller, out_trade_no) makes a burst of the same number wait for the
first: the first creates, the rest find its row and replay it (200, ``Idempotent-Replayed``)
or, with another body, are refused 409 ``out_trade_no_reused``; the unique index
``uq_open_orders_out_trade_no`` backs it. A refused order leaves nothing, so the number can
be used again.

This is the route's long way. The common case — a card key on sale, paid from the wallet —
is answered in front of routing by the open-API lane (``resellers/lane.py``), whose batch
statement takes the same advisory lock without waiting and writes the ``open_orders`` row
in the same statement; whatever it refuses (a replay among them) comes here.

Cancelling (``cancel``) is allowed before processing only: a paid order waiting for stock,
or a direct recharge ``delivering`` that has not gone upstream (``upstream_started_at`` is
null, read under the order's row lock, which the supplier side also takes before it sets
it). The money goes back through ``orders.refund`` (once: the order becomes ``refunded``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.core import outbound
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, NotFound
from kameng_api.orders import service as orders
from kameng_api.orders.idempotency import request_hash
from kameng_api.orders.models import Order
from kameng_api.resellers import callbacks
from kameng_api.resellers.auth import Caller
from kameng_api.resellers.models import OpenOrder
from kameng_api.resellers.schemas import OpenKey, OpenOrderIn, OpenOrderOut

OPEN_ORDER_LOCK = 0x6F70_656E  # pg_advisory_xact_lock(OPEN_ORDER_LOCK, hash) per out_trade_no
_PROCESSING = ("pending_payment", "paid", "delivering")


class OrderNotFound(AppError):
    status = 404
    code = "order_not_found"
    title = "Not found"


class ProductNotFound(AppError):
    status = 404
    code = "product_not_found"
    title = "Not found"


class OutTradeNoReused(AppError):
    status = 409
    code = "out_trade_no_reused"
    title = "Conflict"


class PriceChanged(AppError):
    status = 409
    code = "price_changed"
    title = "Conflict"


class NotCancellable(AppError):
    status = 409
    code = "not_cancellable"
    title = "Conflict"


def open_status(order: Order, link: OpenOrder) -> str:
    if link.cancelled_at is not None:
        return "cancelled"
    if order.status in _PROCESSING:
        return "processing"
    if order.status == "expired":
        return "failed"
    return order.status  # delivered, partially_delivered, failed, refunded


def _message(order: Order, status: str) -> str | None:
    if status == "cancelled":
        return "已取消，款项已退回余额 (cancelled; refunded to your balance)"
    if status == "processing" and order.awaiting_stock:
        return "等待补货 (waiting for stock)"
    if status == "failed":
        return "发货失败 (delivery failed)"
    if status == "refunded":
        return "已退款至余额 (refunded to your balance)"
    return None


async def order_out(
    session: AsyncSession, order: Order, link: OpenOrder, *, with_keys: bool
) -> OpenOrderOut:
    status = open_status(order, link)
    out = OpenOrderOut(
        order_no=order.order_no,
        out_trade_no=link.out_trade_no,
        status=status,
        sku_id=order.sku_id,
        product_name=order.product_name,
        sku_name=order.sku_name,
        quantity=order.quantity,
        unit_price=order.unit_price,
        total=order.total,
        created_at=order.created_at,
        delivered_at=order.delivered_at,
        message=_message(order, status),
    )
    if with_keys and order.delivered_qty and status != "cancelled":
        out.keys = [
            OpenKey(card_no=k.card_no, secret=k.secret)
            for k in await orders.delivered_keys(session, order)
        ]
    return out


async def _find(
    session: AsyncSession, user_id: int, out_trade_no: str, *, lock: bool = False
) -> tuple[Order, OpenOrder] | None:
    q = (
        select(Order, OpenOrder)
        .join(OpenOrder, OpenOrder.order_id == Order.id)
        .where(OpenOrder.user_id == user_id, OpenOrder.out_trade_no == out_trade_no)
    )
    if lock:  # both rows: a cancel that waited sees the order *and* the link as committed
        q = q.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(q)).first()
    return None if row is None else (row[0], row[1])


async def get(session: AsyncSession, caller: Caller, out_trade_no: str) -> tuple[Order, OpenOrder]:
    """The caller's order with this number; another reseller's reads exactly like none."""
    found = await _find(session, caller.user_id, out_trade_no)
    if found is None:
        raise OrderNotFound("No such order.")
    return found


async def place(
    session: AsyncSession, caller: Caller, body: OpenOrderIn
) -> tuple[Order, OpenOrder, bool]:
    """(order, link, created): a new order, or the one this out_trade_no made before."""
    digest = request_hash(body.digest_body())
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:a, hashtext(:b))"),
        {"a": OPEN_ORDER_LOCK, "b": f"{caller.user_id}:{body.out_trade_no}"},
    )
    found = await _find(session, caller.user_id, body.out_trade_no)
    if found is not None:
        if found[1].request_hash != digest:
            raise OutTradeNoReused(
                "这个 out_trade_no 已用于另一个请求 (this out_trade_no was used for another order)"
            )
        return found[0], found[1], False
    if body.callback_url:
        await outbound.check_url(body.callback_url)
    try:
        await catalog.sku_for_sale(session, body.sku_id)
    except NotFound:
        raise ProductNotFound("没有这个商品 (no such product or SKU for sale)") from None
    if body.max_unit_price is not None:
        quote = await catalog.quote_sku(session, body.sku_id, caller.user_id, body.quantity)
        if quote.unit_price > body.max_unit_price:
            raise PriceChanged(
                f"单价为 {quote.unit_price}，高于 max_unit_price "
                f"(our unit price {quote.unit_price} > {body.max_unit_price})"
            )
    order, _ = await orders.create_order(
        session,
        caller.actor,
        orders.PurchaseIn(body.sku_id, body.quantity, "balance", dict(body.buyer_input)),
    )
    link = OpenOrder(
        order_id=order.id,
        user_id=caller.user_id,
        out_trade_no=body.out_trade_no,
        request_hash=digest,
        key_id=caller.key.id,
        callback_url=body.callback_url or None,
        created_at=clock.now(),
    )
    session.add(link)
    await session.flush()
    return order, link, True


async def page(
    session: AsyncSession,
    caller: Caller,
    *,
    status: str | None,
    before: int | None,
    limit: int,
) -> list[tuple[Order, OpenOrder]]:
    """The caller's open-API orders, newest first (``before``: an order id cursor)."""
    q = (
        select(Order, OpenOrder)
        .join(OpenOrder, OpenOrder.order_id == Order.id)
        .where(OpenOrder.user_id == caller.user_id)
        .order_by(OpenOrder.order_id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(OpenOrder.order_id < before)
    if status == "cancelled":
        q = q.where(OpenOrder.cancelled_at.is_not(None))
    elif status is not None:
        q = q.where(OpenOrder.cancelled_at.is_(None))
        if status == "processing":
            q = q.where(Order.status.in_(_PROCESSING))
        elif status == "failed":
            q = q.where(Order.status.in_(("failed", "expired")))
        else:
            q = q.where(Order.status == status)
    return [(r[0], r[1]) for r in (await session.execute(q)).all()]


def cancellable(order: Order) -> bool:
    if order.status == "paid":
        return True  # paid, not delivered: waiting for stock
    return (
        order.status == "delivering"
        and order.delivery_type == "direct_recharge"
        and order.upstream_started_at is None
    )


async def cancel(
    session: AsyncSession, caller: Caller, out_trade_no: str
) -> tuple[Order, OpenOrder]:
    """Cancel before processing: the money back to the wallet once, the timeline and the
    operation log; cancelling a cancelled order answers it again."""
    found = await _find(session, caller.user_id, out_trade_no, lock=True)
    if found is None:
        raise OrderNotFound("No such order.")
    order, link = found
    if link.cancelled_at is not None:
        return order, link
    if not cancellable(order):
        raise NotCancellable(
            f"订单已在处理或已完成，不能取消 (status {order.status}: not cancellable)"
        )
    await orders.refund(session, caller.actor, order, None, "代理取消 (cancelled by the reseller)")
    now: datetime = clock.now()
    link.cancelled_at = now
    # the refund above queued ``order.refunded``; the reseller also hears why
    await callbacks.order_event(session, order.id, "order.cancelled", order=order)
    await audit.record(
        session,
        "resellers.order_cancel",
        actor=caller.actor,
        target_type="order",
        target_id=order.order_no,
        after={"out_trade_no": out_trade_no, "refunded": format(order.total, "f")},
    )
    return order, link
