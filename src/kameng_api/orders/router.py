"""HTTP for orders: buy (with ``Idempotency-Key``), my orders with their keys, and the
console's order list and detail with the timeline."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id, IsoDateTime
from kameng_api.core.errors import (
    PROBLEM_JSON,
    AppError,
    app_error_answer,
    error_responses,
    problem_response,
)
from kameng_api.identity import service as identity
from kameng_api.orders import idempotency, service
from kameng_api.orders.lane import SCOPE
from kameng_api.orders.models import Order
from kameng_api.orders.permissions import OrdersPerm
from kameng_api.orders.schemas import (
    AdminOrderOut,
    AdminOrderPage,
    DeliveredKeyOut,
    DeliverIn,
    OrderEventOut,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderStatus,
    ReasonIn,
    RedeliverIn,
    RefundIn,
)
from kameng_api.payments import service as payments
from kameng_api.rbac.deps import Authenticated, DbSession, require

router = APIRouter(prefix="/orders", tags=["orders"])
admin_router = APIRouter(prefix="/admin/orders", tags=["orders"])

Reader = Annotated[Actor, require(OrdersPerm.read)]
Refunder = Annotated[Actor, require(OrdersPerm.refund)]
PaymentConfirmer = Annotated[Actor, require(OrdersPerm.confirm_paid)]
Redeliverer = Annotated[Actor, require(OrdersPerm.redeliver)]
Deliverer = Annotated[Actor, require(OrdersPerm.deliver)]
Resender = Annotated[Actor, require(OrdersPerm.resend)]


async def _out(session: DbSession, order: Order, *, with_keys: bool) -> OrderOut:
    out = OrderOut.model_validate(order)
    out.delivery_content = service.delivery_content(order) if with_keys else None
    if with_keys and order.status == "pending_payment" and order.pay_method == "epay":
        out.pay_url = await payments.pay_url_of(session, order)
    if with_keys and order.delivered_qty:
        out.keys = [
            DeliveredKeyOut(card_no=k.card_no, secret=k.secret)
            for k in await service.delivered_keys(session, order)
        ]
    return out


def _stored_body(out: OrderOut) -> dict[str, Any]:
    body: dict[str, Any] = jsonable_encoder(out)
    body["keys"] = []  # secrets never rest in the idempotency table; a replay re-reads them
    return body


@router.post(
    "",
    operation_id="orders:create",
    response_model=OrderOut,
    status_code=201,
    responses=error_responses(401, 404, 409, 422),
)
async def create_order(
    body: OrderIn,
    request: Request,
    session: DbSession,
    actor: Authenticated,
    idempotency_key: Annotated[
        str,
        Header(
            min_length=8,
            max_length=128,
            description="one per purchase attempt (e.g. a UUID): a retry gets the first answer",
        ),
    ],
) -> Response:
    """Buy: the server prices the order, checks the buyer input and limits, and — paid by
    balance — charges the wallet and delivers card keys in the same transaction. Errors:
    ``sold_out``, ``insufficient_balance``, ``quantity_out_of_range``, ``per_user_limit``,
    ``bad_buyer_input``; ``idempotency_in_progress`` (409) while the same key is running,
    ``idempotency_key_reused`` (422) for the same key with another body."""
    digest = idempotency.request_hash(body.model_dump())
    stored = await idempotency.claim(session, actor.user_id, SCOPE, idempotency_key, digest)
    if stored is None and await idempotency.refused_at_gate(
        actor.user_id, SCOPE, idempotency_key, digest
    ):
        sold_out = problem_response(
            status=409, code="sold_out", title="Sold out", detail="已售罄 (sold out)"
        )
        return JSONResponse(
            _json(sold_out),
            status_code=409,
            headers={"Idempotent-Replayed": "true"},
            media_type=PROBLEM_JSON,
        )
    if stored is not None:
        replay = dict(stored.body)
        if stored.status_code < 300:  # put the keys back, read from the order
            order = await service.get_order(session, actor, str(replay["order_no"]), own_only=True)
            replay = jsonable_encoder(await _out(session, order, with_keys=True))
        return JSONResponse(
            replay,
            status_code=stored.status_code,
            headers={"Idempotent-Replayed": "true"},
            media_type="application/json" if stored.status_code < 300 else PROBLEM_JSON,
        )
    try:
        async with session.begin_nested():
            order, _ = await service.create_order(
                session,
                actor,
                service.PurchaseIn(body.sku_id, body.quantity, body.pay_method, body.buyer_input),
            )
            if body.pay_method == "epay":
                await payments.start_order_payment(session, order)
    except AppError as exc:  # a refusal is an answer too: stored, replayed to a retry
        answer = app_error_answer(request, exc)
        await idempotency.finish(
            session, actor.user_id, SCOPE, idempotency_key, digest, exc.status, _json(answer)
        )
        return answer
    out = await _out(session, order, with_keys=True)
    await idempotency.finish(
        session, actor.user_id, SCOPE, idempotency_key, digest, 201, _stored_body(out)
    )
    return JSONResponse(jsonable_encoder(out), status_code=201)


def _json(resp: JSONResponse) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bytes(resp.body))
    return data


@router.get(
    "",
    operation_id="orders:list_mine",
    response_model=OrderPage,
    responses=error_responses(401),
)
async def my_orders(
    session: DbSession,
    actor: Authenticated,
    status: OrderStatus | None = None,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """The signed-in buyer's orders, newest first (keys: open one order)."""
    orders = await service.list_orders(
        session,
        service.OrderFilter(buyer_id=actor.user_id, status=status),
        before=before,
        limit=limit,
    )
    items = [await _out(session, o, with_keys=False) for o in orders]
    return OrderPage(items=items, next_before=orders[-1].id if len(orders) == limit else None)


@router.get(
    "/{order_no}",
    operation_id="orders:get_mine",
    response_model=OrderOut,
    responses=error_responses(401, 404),
)
async def my_order(order_no: str, session: DbSession, actor: Authenticated) -> OrderOut:
    """One of the buyer's orders, with its card keys once delivered."""
    order = await service.get_order(session, actor, order_no, own_only=True)
    return await _out(session, order, with_keys=True)


@admin_router.get(
    "",
    operation_id="orders:list",
    response_model=AdminOrderPage,
    responses=error_responses(401, 403),
)
async def list_orders(
    session: DbSession,
    _: Reader,
    status: OrderStatus | None = None,
    product_id: Id | None = None,
    buyer_id: Id | None = None,
    order_no: Annotated[str | None, Query(max_length=32)] = None,
    created_from: IsoDateTime | None = None,
    created_to: IsoDateTime | None = None,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AdminOrderPage:
    """All orders, newest first, filtered by status, product, buyer, order number, time."""
    f = service.OrderFilter(buyer_id, status, product_id, order_no, created_from, created_to)
    orders = await service.list_orders(session, f, before=before, limit=limit)
    logins = await identity.login_names(session, {o.buyer_id for o in orders})
    items = [_admin_item(o, logins) for o in orders]
    return AdminOrderPage(items=items, next_before=orders[-1].id if len(orders) == limit else None)


def _admin_item(order: Order, logins: dict[int, str]) -> AdminOrderOut:
    out = AdminOrderOut.model_validate(order)
    out.delivery_content = None  # like card keys: the buyer's, not shown in the console
    out.buyer_login = logins.get(order.buyer_id)
    return out


async def _admin_out(session: DbSession, order: Order) -> AdminOrderOut:
    out = _admin_item(order, await identity.login_names(session, {order.buyer_id}))
    out.timeline = [
        OrderEventOut.model_validate(e) for e in await service.timeline(session, order.id)
    ]
    return out


@admin_router.post(
    "/{order_no}/refund",
    operation_id="orders:refund",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def refund_order(
    order_no: str, body: RefundIn, session: DbSession, actor: Refunder
) -> AdminOrderOut:
    """Refund to the buyer's balance (退款), all or part; needs ``orders:refund`` with a
    fresh 2FA; written to the operation log and the order's timeline."""
    order = await service.lock_order(session, actor, order_no)
    await service.refund(session, actor, order, body.amount, body.reason)
    return await _admin_out(session, order)


@admin_router.post(
    "/{order_no}/confirm-paid",
    operation_id="orders:confirm_paid",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def confirm_paid(
    order_no: str, body: ReasonIn, session: DbSession, actor: PaymentConfirmer
) -> AdminOrderOut:
    """手动确认收款: the money arrived but no notice did — pay and deliver the order.
    Needs ``orders:confirm_paid`` with a fresh 2FA and a reason; in the operation log."""
    order = await service.lock_order(session, actor, order_no)
    await service.confirm_paid(session, actor, order, body.reason)
    return await _admin_out(session, order)


@admin_router.post(
    "/{order_no}/redeliver",
    operation_id="orders:redeliver",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def redeliver(
    order_no: str, body: RedeliverIn, session: DbSession, actor: Redeliverer
) -> AdminOrderOut:
    """补发: more keys from stock for a delivered card-key order (the buyer sees them with
    the order); ``sold_out`` when stock cannot cover it."""
    order = await service.lock_order(session, actor, order_no)
    await service.redeliver(session, actor, order, body.quantity, body.reason)
    return await _admin_out(session, order)


@admin_router.post(
    "/{order_no}/deliver",
    operation_id="orders:deliver",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def deliver(
    order_no: str, body: DeliverIn, session: DbSession, actor: Deliverer
) -> AdminOrderOut:
    """人工发货: fill the delivery form of a manual order waiting in ``delivering``; the
    content is stored encrypted, shown to the buyer with the order and mailed to them."""
    order = await service.lock_order(session, actor, order_no)
    await service.deliver_manually(session, actor, order, body.content, body.note)
    return await _admin_out(session, order)


@admin_router.post(
    "/{order_no}/resend",
    operation_id="orders:resend",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404, 409),
)
async def resend(order_no: str, session: DbSession, actor: Resender) -> AdminOrderOut:
    """重发通知: mail the buyer the delivery (or refund) notice again."""
    order = await service.lock_order(session, actor, order_no)
    await service.resend_notice(session, actor, order)
    return await _admin_out(session, order)


@admin_router.get(
    "/{order_no}",
    operation_id="orders:get",
    response_model=AdminOrderOut,
    responses=error_responses(401, 403, 404),
)
async def get_order(order_no: str, session: DbSession, actor: Reader) -> AdminOrderOut:
    """One order with its timeline (keys stay masked: reveal them in the inventory)."""
    return await _admin_out(session, await service.get_order(session, actor, order_no))
