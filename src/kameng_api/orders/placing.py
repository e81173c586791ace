"""Placing an order: quantity and buyer input checked, the price quoted on the server, the
per-user limit enforced, the order numbered. Card keys paid by balance are one database
call (``orders/purchase.py``); anything else is created ``pending_payment`` and, paid by
balance, paid at once (``paying.py``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.catalog.models import Product, Sku
from kameng_api.catalog.pricing import Quote
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.inventory import service as inventory
from kameng_api.inventory.models import STOCK_SLOTS
from kameng_api.orders import purchase, sourcing
from kameng_api.orders.buyer_input import check_buyer_input
from kameng_api.orders.errors import OrderRefused
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.paying import pay_by_balance
from kameng_api.settings import get_settings
from kameng_api.wallet import service as wallet

LIMIT_LOCK = purchase.LIMIT_LOCK  # advisory lock (LIMIT_LOCK, hash) while checking a limit


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
    if data.pay_method == "balance" and product.delivery_type == "card_key":
        return await _buy_card_keys(session, actor, sku, product, data, quote, buyer_input)
    return await _place(session, actor, sku, product, data, quote, buyer_input), []


async def _place(
    session: AsyncSession,
    actor: Actor,
    sku: Sku,
    product: Product,
    data: PurchaseIn,
    quote: Quote,
    buyer_input: dict[str, str],
) -> Order:
    """The step-by-step order: created ``pending_payment``; paid by balance at once."""
    now = clock.now()
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
        await pay_by_balance(session, order, actor)
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
    return order


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
    (``orders/purchase.py``; the same rows as the step-by-step path). A SKU sourced upstream
    (``orders/sourcing.py``) whose stock is empty is still sold: the order is paid and its
    keys bought from the supplier (the delivery job); the claim then runs in a savepoint of
    its own, so its refusal leaves the transaction usable."""
    request = card_key_request(
        actor.user_id,
        actor.kind,
        actor.meta,
        sku,
        product,
        data.quantity,
        quote,
        buyer_input,
    )
    maybe_upstream = await sourcing.sourced_cached(sku.id, session)
    try:
        if maybe_upstream:
            async with session.begin_nested():
                order_id, keys = await purchase.buy(session, request)
        else:
            order_id, keys = await purchase.buy(session, request)
    except purchase.Refused as no:
        if no.code == "sold_out" and no.detail == "0":
            if maybe_upstream and await sourcing.sourced(session, sku.id):
                # keys bought from the supplier: paid now, ``delivering``
                placed = await _place(session, actor, sku, product, data, quote, buyer_input)
                return placed, []
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
