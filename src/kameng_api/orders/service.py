"""Order rules: create (price on the server, buyer input checked, limits enforced), pay by
balance, deliver card keys exactly once, the timeline, and reading orders.

Card keys paid by balance are one database call (``orders/purchase.py``): claim the keys
(sold out → nothing happened), charge the wallet (booked once per order), record the keys in
``order_keys`` and mark the order delivered. Any refusal rolls all of it back, so a buyer is
never charged without keys and a key never leaves stock without an order. (The purchase lane,
``orders/lane.py``, makes the same call for the flash-sale case before routing.)

Other goods leave through the outbox: a paid direct-recharge order becomes ``delivering`` and
writes a ``fulfilment:deliver`` job in the same transaction (fulfilment/ talks to the
supplier); a manual one waits, ``delivering``, for staff to fill the delivery form. Every
delivered (or failed) order writes a ``fulfilment:notify`` job: the buyer's mail and notice.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.catalog.models import Product, Sku
from kameng_api.catalog.pricing import Quote
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, FieldProblem, NotFound
from kameng_api.core.security import decrypt_field, encrypt_field
from kameng_api.inventory import service as inventory
from kameng_api.inventory.models import STOCK_SLOTS
from kameng_api.orders import purchase
from kameng_api.orders.models import Order, OrderEvent, OrderKey
from kameng_api.orders.permissions import OrdersPerm
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings
from kameng_api.wallet import service as wallet

DELIVER_TASK = "fulfilment:deliver"  # direct recharge at the supplier (fulfilment/tasks.py)
NOTIFY_TASK = purchase.NOTIFY_TASK  # the buyer's mail and in-app notice
LIMIT_LOCK = purchase.LIMIT_LOCK  # advisory lock (LIMIT_LOCK, hash) while checking a limit


class OrderRefused(AppError):
    status = 422
    code = "order_refused"
    title = "Order refused"


@dataclass(frozen=True)
class PurchaseIn:
    sku_id: int
    quantity: int
    pay_method: str  # "balance" (instant) or "epay" (pending until the gateway confirms)
    buyer_input: dict[str, Any] = field(default_factory=dict)


def new_order_no(now: datetime) -> str:
    """Human-facing order number: time first (sorts by time), then 10 random digits (not
    guessable from a neighbour). At 2,000 orders a second, two in one second share a number
    about once in 25,000 seconds (with 8 digits: once a minute). A lane batch that meets a
    number already taken runs again without that purchase, which the route then makes with
    a new number (``orders.purchase.Batches``)."""
    return f"{now:%y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


# ---- buyer input ----------------------------------------------------------------------------


def check_buyer_input(fields: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, str]:
    """The product's buyer fields (game account, region …) filled in, or a 422 naming each
    problem. Unknown keys are refused too: nothing unexpected reaches the delivery."""
    problems: list[FieldProblem] = []
    out: dict[str, str] = {}
    known = {f["key"] for f in fields}
    for key in data:
        if key not in known:
            problems.append(
                FieldProblem(
                    loc=["body", "buyer_input", key], msg="未知字段 (unknown field)", type="unknown"
                )
            )
    for f in fields:
        raw = data.get(f["key"])
        value = "" if raw is None else str(raw).strip()
        loc: list[str | int] = ["body", "buyer_input", f["key"]]
        if not value:
            if f.get("required", True):
                problems.append(
                    FieldProblem(loc=loc, msg=f"请填写{f['label']} (required)", type="missing")
                )
            continue
        if len(value) > int(f.get("max_length", 64)):
            problems.append(FieldProblem(loc=loc, msg="太长 (too long)", type="too_long"))
        elif f.get("type") == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            problems.append(FieldProblem(loc=loc, msg="须为数字 (a number)", type="number"))
        elif f.get("type") == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            problems.append(FieldProblem(loc=loc, msg="邮箱格式不对 (an email)", type="email"))
        elif f.get("type") == "phone" and not re.fullmatch(r"\+?[0-9 -]{5,20}", value):
            problems.append(
                FieldProblem(loc=loc, msg="手机号格式不对 (a phone number)", type="phone")
            )
        elif f.get("type") == "select" and value not in f.get("options", []):
            problems.append(
                FieldProblem(loc=loc, msg="不在可选项中 (not an option)", type="option")
            )
        elif f.get("pattern") and not re.fullmatch(f["pattern"], value):
            problems.append(FieldProblem(loc=loc, msg="格式不对 (wrong format)", type="pattern"))
        else:
            out[f["key"]] = value
    if problems:
        raise OrderRefused(
            "下单信息有误 (check the buyer input)", code="bad_buyer_input", errors=problems
        )
    return out


# ---- creating and paying --------------------------------------------------------------------


async def _move(
    session: AsyncSession, order: Order, to: str, actor_id: int | None, reason: str = ""
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=order.status,
            to_status=to,
            actor_id=actor_id,
            reason=reason[:255],
        )
    )
    order.status = to
    order.updated_at = clock.now()


async def _check_limit(
    session: AsyncSession, actor: Actor, product_id: int, limit: int, qty: int
) -> None:
    """Per-user limit (限购): the buyer's live orders of this product plus this one. Checked
    under a transaction lock per (buyer, product), so two tabs cannot both slip under it."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:a, hashtext(:b))"),
        {"a": LIMIT_LOCK, "b": f"{actor.user_id}:{product_id}"},
    )
    bought = (
        await session.execute(
            select(func.coalesce(func.sum(Order.quantity), 0)).where(
                Order.buyer_id == actor.user_id,
                Order.product_id == product_id,
                Order.status.not_in(("expired", "refunded", "failed")),
            )
        )
    ).scalar_one()
    if bought + qty > limit:
        raise OrderRefused(
            f"每人限购 {limit} 件，您已购买 {bought} 件 (limit {limit} per buyer)",
            code="per_user_limit",
        )


async def create_order(
    session: AsyncSession, actor: Actor, data: PurchaseIn
) -> tuple[Order, list[int]]:
    """Create an order; paid by balance, it is paid and (card keys) delivered at once.
    Returns the order and the delivered key ids."""
    sku, product = await catalog.sku_for_sale(session, data.sku_id)
    if not product.min_qty <= data.quantity <= product.max_qty:
        raise OrderRefused(
            f"购买数量须在 {product.min_qty}–{product.max_qty} 之间 "
            f"(quantity {product.min_qty}-{product.max_qty})",
            code="quantity_out_of_range",
        )
    buyer_input = check_buyer_input(product.buyer_fields, data.buyer_input)
    quote = await catalog.quote_sku(session, sku.id, actor.user_id, data.quantity)
    now = clock.now()
    if data.pay_method == "balance" and product.delivery_type == "card_key":
        return await _buy_card_keys(session, actor, sku, product, data, quote, buyer_input)
    if product.per_user_limit is not None:
        await _check_limit(session, actor, product.id, product.per_user_limit, data.quantity)
    order = Order(
        order_no=new_order_no(now),
        buyer_id=actor.user_id,
        product_id=product.id,
        sku_id=sku.id,
        product_name=product.name,
        sku_name=sku.name,
        delivery_type=product.delivery_type,
        quantity=data.quantity,
        unit_price=quote.unit_price,
        total=quote.total,
        price_rule=quote.rule,
        buyer_input=buyer_input,
        status="pending_payment",
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=get_settings().order_pay_timeout_s),
    )
    session.add(order)
    await session.flush()
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=None,
            to_status="pending_payment",
            actor_id=actor.user_id,
            reason="下单",
        )
    )
    if data.pay_method == "balance":
        await _pay_by_balance(session, order, actor)
    else:
        order.pay_method = data.pay_method  # the caller starts the gateway payment
    await audit.record(
        session,
        "orders.create",
        actor=actor,
        target_type="order",
        target_id=order.order_no,
        after={
            "sku_id": sku.id,
            "quantity": order.quantity,
            "total": format(order.total, "f"),
            "status": order.status,
        },
    )
    return order, []


async def _buy_card_keys(
    session: AsyncSession,
    actor: Actor,
    sku: Sku,
    product: Product,
    data: PurchaseIn,
    quote: Quote,
    buyer_input: dict[str, str],
) -> tuple[Order, list[int]]:
    """Card keys paid by balance: claim, charge, deliver, in one database call
    (``orders/purchase.py``; the same rows as the step-by-step path)."""
    try:
        order_id, keys = await purchase.buy(
            session,
            card_key_request(
                actor.user_id,
                actor.kind,
                actor.meta,
                sku,
                product,
                data.quantity,
                quote,
                buyer_input,
            ),
        )
    except purchase.Refused as no:
        if no.code == "sold_out" and no.detail == "0":
            await inventory.mark_sold_out(sku.id)  # the gate answers the next buyers
        raise refusal(no, product.per_user_limit) from None
    await inventory.after_sale(session, sku.id)
    order = await session.get(Order, order_id)
    assert order is not None
    return order, keys


def card_key_request(
    buyer_id: int,
    buyer_kind: UserKind,
    meta: RequestMeta,
    sku: Sku,
    product: Product,
    quantity: int,
    quote: Quote,
    buyer_input: dict[str, str],
    *,
    claim_from: int = 0,
) -> purchase.Request:
    """What ``kameng_purchase`` needs for a balance purchase of card keys (the route's and the
    purchase lane's)."""
    now = clock.now()
    return purchase.Request(
        buyer_id=buyer_id,
        buyer_kind=buyer_kind,
        meta=meta,
        order_no=new_order_no(now),
        sku_id=sku.id,
        product_id=product.id,
        product_name=product.name,
        sku_name=sku.name,
        quantity=quantity,
        unit_price=quote.unit_price,
        total=wallet.check_amount(quote.total),
        price_rule=quote.rule,
        buyer_input=buyer_input,
        expires_at=now + timedelta(seconds=get_settings().order_pay_timeout_s),
        looping=product.looping_keys,
        per_user_limit=product.per_user_limit,
        stock_slots=STOCK_SLOTS,
        claim_from=claim_from,
    )


def refusal(no: purchase.Refused, limit: int | None) -> Exception:
    """The error a refused purchase answers with."""
    if no.code == "sold_out":
        if no.detail == "0":
            return inventory.SoldOut("已售罄 (sold out)")
        return inventory.SoldOut(f"库存不足，仅剩 {no.detail} 件 (not enough stock)")
    if no.code == "insufficient_balance":
        return wallet.InsufficientBalance("余额不足 (the balance is too low)")
    if no.code == "per_user_limit":
        return OrderRefused(
            f"每人限购 {limit} 件，您已购买 {no.detail} 件 (limit {limit} per buyer)",
            code="per_user_limit",
        )
    return no


async def _pay_by_balance(session: AsyncSession, order: Order, actor: Actor) -> None:
    """Goods that do not come from our stock (direct recharge, manual), paid by balance;
    card keys go through ``_buy_card_keys``."""
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
    await _move(session, order, "paid", actor.user_id, "余额支付")
    await _start_delivery(session, order, actor.user_id)


async def _start_delivery(session: AsyncSession, order: Order, actor_id: int | None) -> None:
    """A paid order whose goods do not come from our stock: hand a direct recharge to the
    delivery job (written in this transaction, run after commit); a manual one waits for
    staff."""
    if order.delivery_type == "direct_recharge":
        await _move(session, order, "delivering", actor_id, "提交上游直充")
        await outbox.enqueue(session, DELIVER_TASK, {"order_id": order.id})
    elif order.delivery_type == "manual":
        await _move(session, order, "delivering", actor_id, "等待人工发货")


async def _mark_delivered(
    session: AsyncSession, order: Order, actor_id: int | None, reason: str
) -> None:
    order.delivered_qty = order.quantity
    order.delivered_at = clock.now()
    await _move(session, order, "delivered", actor_id, reason)
    await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order.id})


async def _deliver_keys(
    session: AsyncSession, order: Order, keys: list[int], actor_id: int | None
) -> None:
    session.add_all([OrderKey(order_id=order.id, key_id=k, seq=i) for i, k in enumerate(keys)])
    await _mark_delivered(session, order, actor_id, f"自动发卡 {len(keys)} 张")


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
    deliver — or, if the keys ran out meanwhile, leave it paid and awaiting stock."""
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
    await _move(session, order, "paid", actor_id, reason)
    if order.delivery_type == "card_key":
        try:
            keys = await inventory.allocate(
                session, order.sku_id, order.product_id, order.quantity, order.id
            )
        except inventory.SoldOut:
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
            await _deliver_keys(session, order, keys, actor_id)
    else:
        await _start_delivery(session, order, actor_id)


# ---- direct recharge and manual delivery ----------------------------------------------------


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
    await _move(session, order, "failed", None, reason)
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


# ---- after the sale: refunds, expiry, waiting for stock ----------------------------------


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
        await _move(session, order, "refunded", actor_id, f"退款 {amount}: {reason}")
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


async def lock_order(session: AsyncSession, actor: Actor, order_no: str) -> Order:
    order = await get_order(session, actor, order_no)
    await session.refresh(order, with_for_update=True)
    return order


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
        await _move(session, order, "expired", None, "超时未支付")
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
        await _deliver_keys(session, order, keys, None)
        delivered += 1
    return delivered, refunded


# ---- reading --------------------------------------------------------------------------------


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


async def timeline(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    return list(
        (
            await session.execute(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        ).scalars()
    )


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
