"""After the sale: refunds to balance (step-up, audited, partial or full), unpaid orders
expiring, and paid orders waiting for stock — delivered on restock or refunded in time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core.actor import UserKind
from kameng_api.core.clock import clock
from kameng_api.orders import service as orders
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.outbox.models import OutboxMessage
from kameng_api.payments.models import Payment
from kameng_api.wallet import service as wallet
from tests.support.factories import login, make_user
from tests.support.procs import settings_env
from tests.test_orders import _shop

ADMIN = "/api/v1/admin/orders"


@pytest.fixture
def gateway() -> Iterator[None]:
    """EPay configured (nothing listens there: these tests never reach it)."""
    with settings_env(
        KAMENG_EPAY_GATEWAY_URL="http://127.0.0.1:9", KAMENG_EPAY_PID="1", KAMENG_EPAY_KEY="k"
    ):
        yield


async def _buy(client: httpx.AsyncClient, h: dict[str, str], sku_id: int, **body: object) -> dict:
    r = await client.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, **body},
        headers={**h, "idempotency-key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_refunds_go_to_the_balance_partially_then_fully_with_step_up(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 2, price="40.00")
    buyer = await make_user(kind=UserKind.customer)
    await wallet.recharge(session, buyer.user.id, Decimal("100"), payment_id=1)
    await session.commit()
    order = await _buy(client, await login(client, buyer), sku_id)

    finance = await make_user(roles=("finance",), mfa=True)
    fh = await login(client, finance)
    url = f"{ADMIN}/{order['order_no']}/refund"
    r = await client.post(url, json={"amount": "15", "reason": "部分退款"}, headers=fh)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["refunded_total"]) == ("delivered", "15.0000")
    r = await client.post(url, json={"amount": "30", "reason": "超额"}, headers=fh)
    assert (r.status_code, r.json()["code"]) == (422, "bad_amount")
    r = await client.post(url, json={"reason": "余下全退"}, headers=fh)
    assert (r.json()["status"], r.json()["refunded_total"]) == ("refunded", "40.0000")
    assert [e["to_status"] for e in r.json()["timeline"]][-2:] == ["delivered", "refunded"]
    r = await client.post(url, json={"reason": "再退"}, headers=fh)
    assert (r.status_code, r.json()["code"]) == (409, "not_refundable")
    assert await wallet.balance(session, buyer.user.id) == Decimal("100.0000")
    logged = (
        (await session.execute(select(AuditLog).where(AuditLog.action == "orders.refund")))
        .scalars()
        .all()
    )
    assert [(a.actor_id, a.detail) for a in logged] == [
        (finance.user.id, "部分退款"),
        (finance.user.id, "余下全退"),
    ]
    # 客服 cannot refund; without a fresh 2FA finance cannot either
    cs = await login(client, await make_user(roles=("customer_service",)))
    assert (await client.post(url, json={"reason": "x1"}, headers=cs)).status_code == 403
    await session.execute(
        text("UPDATE auth_sessions SET mfa_verified_at = now() - interval '1 hour'")
    )
    await session.commit()
    r = await client.post(url, json={"reason": "再退"}, headers=fh)
    assert (r.status_code, r.json()["code"]) == (403, "step_up_required")


async def test_unpaid_orders_expire(
    client: httpx.AsyncClient, session: AsyncSession, gateway: None
) -> None:
    _, sku_id, _ = await _shop(client, 1)
    buyer = await make_user(kind=UserKind.customer)
    order = await _buy(client, await login(client, buyer), sku_id, pay_method="epay")
    assert order["status"] == "pending_payment"
    assert await orders.expire_unpaid(session) == 0  # not yet
    await session.execute(
        update(Order)
        .where(Order.order_no == order["order_no"])
        .values(expires_at=clock.now() - timedelta(seconds=1))
    )
    assert await orders.expire_unpaid(session) == 1
    await session.commit()
    row = (
        await session.execute(select(Order).where(Order.order_no == order["order_no"]))
    ).scalar_one()
    assert row.status == "expired"
    last = (
        (
            await session.execute(
                select(OrderEvent)
                .where(OrderEvent.order_id == row.id)
                .order_by(OrderEvent.id.desc())
            )
        )
        .scalars()
        .first()
    )
    assert last is not None
    assert (last.from_status, last.to_status, last.reason) == (
        "pending_payment",
        "expired",
        "超时未支付",
    )


async def test_orders_waiting_for_stock_are_delivered_on_restock_or_refunded_in_time(
    client: httpx.AsyncClient, session: AsyncSession, gateway: None
) -> None:
    _, sku_id, _ = await _shop(client, 0, price="9.00")
    buyers = [await make_user(kind=UserKind.customer) for _ in range(2)]
    placed = [await _buy(client, await login(client, b), sku_id, pay_method="epay") for b in buyers]
    # both paid at the gateway while the SKU has no keys: paid, awaiting stock
    for o in placed:
        order = (
            await session.execute(select(Order).where(Order.order_no == o["order_no"]))
        ).scalar_one()
        payment = (
            await session.execute(select(Payment).where(Payment.order_id == order.id))
        ).scalar_one()
        await orders.paid_by_gateway(session, order.id, payment.id)
    await session.commit()
    first, second = [
        (await session.execute(select(Order).where(Order.order_no == o["order_no"]))).scalar_one()
        for o in placed
    ]
    assert (first.status, first.awaiting_stock) == ("paid", True)
    # the second has waited too long by now
    second.paid_at = clock.now() - timedelta(hours=2)
    await session.commit()
    assert await orders.fulfil_awaiting(session) == (0, 1)
    await session.commit()

    # a restock delivers the first
    op = await login(client, await make_user(roles=("operator",)))
    r = await client.post(
        "/api/v1/inventory/imports",
        data={"sku_id": str(sku_id), "text": "RESTOCK-KEY-0001", "format": "secret"},
        headers=op,
    )
    await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=op)
    assert await orders.fulfil_awaiting(session) == (1, 0)
    await session.commit()
    await session.refresh(first)
    await session.refresh(second)
    assert (first.status, first.awaiting_stock) == ("delivered", False)
    assert (second.status, second.refunded_total) == ("refunded", Decimal("9.0000"))
    assert await wallet.balance(session, buyers[1].user.id) == Decimal("9.0000")
    mine = (
        await client.get(f"/api/v1/orders/{first.order_no}", headers=await login(client, buyers[0]))
    ).json()
    assert [k["secret"] for k in mine["keys"]] == ["RESTOCK-KEY-0001"]


async def test_staff_confirm_a_payment_that_sent_no_notice_and_it_is_booked_once(
    client: httpx.AsyncClient, session: AsyncSession, gateway: None
) -> None:
    _, sku_id, secrets = await _shop(client, 1, price="25.00")
    buyer = await make_user(kind=UserKind.customer)
    bh = await login(client, buyer)
    order = await _buy(client, bh, sku_id, pay_method="epay")
    finance = await make_user(roles=("finance",), mfa=True)
    fh = await login(client, finance)
    url = f"{ADMIN}/{order['order_no']}/confirm-paid"
    r = await client.post(url, json={"reason": "商户后台显示已付"}, headers=fh)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered"
    assert r.json()["timeline"][1]["reason"] == "手动确认收款: 商户后台显示已付"
    r = await client.post(url, json={"reason": "again"}, headers=fh)
    assert (r.status_code, r.json()["code"]) == (409, "not_awaiting_payment")
    # the gateway's notice turning up later books nothing twice
    row = (
        await session.execute(select(Order).where(Order.order_no == order["order_no"]))
    ).scalar_one()
    payment = (
        await session.execute(select(Payment).where(Payment.order_id == row.id))
    ).scalar_one()
    await orders.paid_by_gateway(session, row.id, payment.id)
    await session.commit()
    tb = await wallet.trial_balance(session)
    assert tb.by_kind["revenue"] == Decimal("25.0000")
    mine = (await client.get(f"/api/v1/orders/{order['order_no']}", headers=bh)).json()
    assert [k["secret"] for k in mine["keys"]] == secrets
    logged = (
        (
            await session.execute(
                select(AuditLog.detail).where(AuditLog.action == "orders.confirm_paid")
            )
        )
        .scalars()
        .all()
    )
    assert logged == ["商户后台显示已付"]


async def test_redelivery_gives_more_keys_from_stock(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, secrets = await _shop(client, 2, price="5.00")
    buyer = await make_user(kind=UserKind.customer)
    await wallet.recharge(session, buyer.user.id, Decimal("5"), payment_id=5)
    await session.commit()
    bh = await login(client, buyer)
    order = await _buy(client, bh, sku_id)
    cs = await login(client, await make_user(roles=("customer_service",)))
    url = f"{ADMIN}/{order['order_no']}/redeliver"
    r = await client.post(url, json={"reason": "卡密无效"}, headers=cs)
    assert r.status_code == 200, r.text
    assert r.json()["timeline"][-1]["reason"] == "补发 1 张: 卡密无效"
    mine = (await client.get(f"/api/v1/orders/{order['order_no']}", headers=bh)).json()
    assert sorted(k["secret"] for k in mine["keys"]) == sorted(secrets)
    notices = (
        await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.task == orders.NOTIFY_TASK)
        )
    ).scalars()
    # mailed on delivery (the lane's batch notice), and again with all keys after the 补发
    assert list(notices) == [{"order_ids": [order["id"]]}, {"order_id": order["id"]}]
    r = await client.post(url, json={"reason": "又无效"}, headers=cs)
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    finance_only = await login(client, await make_user(roles=("marketing",)))
    assert (await client.post(url, json={"reason": "xx"}, headers=finance_only)).status_code == 403
