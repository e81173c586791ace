"""EPay end to end over real HTTP: the API on a local port, the EPay simulator on another.
Notices arrive as real requests — repeated, concurrent, out of order, forged — and a
payment is applied once: one credit, one delivery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core.actor import UserKind
from kameng_api.orders.models import Order, OrderEvent, OrderKey
from kameng_api.payments import epay
from kameng_api.payments.models import Payment
from kameng_api.payments.simulator import EpaySimulator
from kameng_api.settings import get_settings
from kameng_api.wallet import service as wallet
from kameng_api.wallet.models import Entry
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env
from tests.test_orders import _shop

PID = "1001"
KEY = "sim-merchant-key-0123456789"


@dataclass
class Live:
    api: httpx.AsyncClient  # real HTTP to the API
    sim: EpaySimulator


@pytest.fixture
async def live(app_db: str) -> AsyncIterator[Live]:
    api_port, sim_port = free_port(), free_port()
    sim = EpaySimulator(PID, KEY)
    with settings_env(
        KAMENG_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
        KAMENG_EPAY_GATEWAY_URL=f"http://127.0.0.1:{sim_port}",
        KAMENG_EPAY_PID=PID,
        KAMENG_EPAY_KEY=KEY,
    ):
        from kameng_api.main import create_app

        api_server, api_task = await serve_app(create_app(get_settings()), api_port)
        sim_server, sim_task = await serve_app(sim.app, sim_port)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as c:
                yield Live(c, sim)
        finally:
            for server in (api_server, sim_server):
                server.should_exit = True
            await asyncio.gather(api_task, sim_task)


async def _checkout(live: Live, pay_url: str) -> str:
    """The buyer opens the pay page (the simulator checks our signature); its out_trade_no."""
    async with httpx.AsyncClient() as c:
        page = await c.get(pay_url)
    assert page.status_code == 200, page.text
    assert "确认支付" in page.text
    return pay_url.split("out_trade_no=")[1].split("&")[0]


async def test_a_recharge_is_credited_once_however_often_the_notice_comes(
    live: Live, session: AsyncSession
) -> None:
    account = await make_user(kind=UserKind.customer)
    h = await login(live.api, account)
    r = await live.api.post("/api/v1/wallet/me/recharges", json={"amount": "88.80"}, headers=h)
    assert r.status_code == 201, r.text
    out = await _checkout(live, r.json()["pay_url"])
    assert out == r.json()["out_trade_no"]

    assert await live.sim.pay(out)  # the real notice, over HTTP: answered "success"
    assert await wallet.balance(session, account.user.id) == Decimal("88.8000")
    # the same notice five times at once, GET and POST, plus a stale "waiting" one afterwards
    notice = live.sim.notice(out)
    answers = await asyncio.gather(
        *(live.sim.send(out, notice, method=m) for m in ("GET", "POST", "GET", "POST", "GET"))
    )
    assert [a.text for a in answers] == ["success"] * 5
    late = await live.sim.send(out, live.sim.notice(out, trade_status="WAIT_BUYER_PAY"))
    assert late.text == "success"
    session.expire_all()
    assert await wallet.balance(session, account.user.id) == Decimal("88.8000")
    entries = (
        await session.execute(
            select(func.count()).select_from(Entry).where(Entry.kind == "recharge")
        )
    ).scalar()
    assert entries == 1
    payment = (await session.execute(select(Payment))).scalar_one()
    assert (payment.status, payment.notices) == ("succeeded", 6)
    logged = (
        await session.execute(
            select(AuditLog.action, AuditLog.target_id).where(AuditLog.action.like("payments.%"))
        )
    ).all()
    assert sorted(tuple(x) for x in logged) == [
        ("payments.paid", out),
        ("payments.start_recharge", out),
    ]
    # the statement shows it
    items = (await live.api.get("/api/v1/wallet/me/statement", headers=h)).json()["items"]
    assert [(i["kind"], i["amount"]) for i in items] == [("recharge", "88.8000")]


async def test_an_order_paid_by_epay_is_delivered_once_when_notices_race(
    live: Live, session: AsyncSession
) -> None:
    _, sku_id, secrets = await _shop(live.api, 3, price="19.90")
    account = await make_user(kind=UserKind.customer)
    h = await login(live.api, account)
    r = await live.api.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "pay_method": "epay"},
        headers={**h, "idempotency-key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["status"], order["keys"]) == ("pending_payment", [])
    out = await _checkout(live, order["pay_url"])

    live.sim.orders[out].paid = True
    notice = live.sim.notice(out)
    answers = await asyncio.gather(*(live.sim.send(out, notice) for _ in range(5)))
    assert [a.text for a in answers] == ["success"] * 5

    mine = (await live.api.get(f"/api/v1/orders/{order['order_no']}", headers=h)).json()
    assert mine["status"] == "delivered"
    assert len(mine["keys"]) == 1
    assert mine["keys"][0]["secret"] in secrets
    assert mine["pay_url"] is None
    delivered = (await session.execute(select(func.count()).select_from(OrderKey))).scalar()
    assert delivered == 1
    purchases = (
        await session.execute(
            select(func.count()).select_from(Entry).where(Entry.kind == "purchase")
        )
    ).scalar()
    assert purchases == 1
    tb = await wallet.trial_balance(session)
    assert tb.by_kind["revenue"] == Decimal("19.9000")
    assert tb.by_kind["gateway"] == Decimal("-19.9000")
    assert await wallet.balance(session, account.user.id) == 0  # the wallet was not touched


async def test_forged_or_mismatched_notices_change_nothing(
    live: Live, session: AsyncSession
) -> None:
    account = await make_user(kind=UserKind.customer)
    h = await login(live.api, account)
    r = await live.api.post("/api/v1/wallet/me/recharges", json={"amount": "50"}, headers=h)
    out = await _checkout(live, r.json()["pay_url"])
    live.sim.orders[out].paid = True

    cases = {
        "bad_signature": live.sim.notice(out, sign_key="not-the-merchant-key"),
        "wrong_merchant": live.sim.notice(out, pid="9999"),
        "wrong_amount": live.sim.notice(out, money="500.00"),
    }
    unknown = live.sim.notice(out)
    unknown["out_trade_no"] = "P000000000000000000"
    unknown["sign"] = epay.sign(unknown, KEY)
    cases["unknown_payment"] = unknown
    tampered = live.sim.notice(out)
    tampered["money"] = "0.01"  # changed after signing
    cases["bad_signature "] = tampered
    for expected, params in cases.items():
        r = await live.sim.send(out, params)
        assert r.status_code == 400, (expected, r.text)
        assert r.json()["code"] == expected.strip()
    assert await wallet.balance(session, account.user.id) == 0
    payment = (await session.execute(select(Payment))).scalar_one()
    assert payment.status == "pending"
    # the real one still works afterwards
    assert (await live.sim.send(out, live.sim.notice(out))).text == "success"
    assert await wallet.balance(session, account.user.id) == Decimal("50.0000")


async def test_paid_after_the_stock_ran_out_the_order_waits_for_stock(
    live: Live, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(live.api, 1)
    slow = await make_user(kind=UserKind.customer)
    sh = await login(live.api, slow)
    r = await live.api.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "pay_method": "epay"},
        headers={**sh, "idempotency-key": uuid.uuid4().hex},
    )
    order = r.json()
    out = await _checkout(live, order["pay_url"])
    # meanwhile someone buys the last key with their balance
    fast = await make_user(kind=UserKind.customer)
    await wallet.recharge(session, fast.user.id, Decimal("20"), payment_id=777)
    await session.commit()
    fh = await login(live.api, fast)
    r = await live.api.post(
        "/api/v1/orders",
        json={"sku_id": sku_id},
        headers={**fh, "idempotency-key": uuid.uuid4().hex},
    )
    assert r.json()["status"] == "delivered"

    assert await live.sim.pay(out)
    got = (await live.api.get(f"/api/v1/orders/{order['order_no']}", headers=sh)).json()
    assert (got["status"], got["awaiting_stock"], got["keys"]) == ("paid", True, [])
    reasons = (
        (
            await session.execute(
                select(OrderEvent.reason)
                .join(Order, Order.id == OrderEvent.order_id)
                .where(Order.order_no == order["order_no"])
                .order_by(OrderEvent.id)
            )
        )
        .scalars()
        .all()
    )
    assert reasons[-1] == "库存不足，等待补货"


async def test_a_lost_notice_is_found_by_polling_the_gateway(
    live: Live, session: AsyncSession
) -> None:
    from kameng_api.payments import service as payments

    _, sku_id, secrets = await _shop(live.api, 2)
    account = await make_user(kind=UserKind.customer)
    h = await login(live.api, account)
    r = await live.api.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "pay_method": "epay"},
        headers={**h, "idempotency-key": uuid.uuid4().hex},
    )
    order = r.json()
    out = await _checkout(live, order["pay_url"])
    live.sim.orders[out].paid = True  # paid at the gateway, but the notice is lost

    # too recent: not asked yet; then asked, settled once, and a second poll finds nothing
    assert await payments.poll_pending(session, first_after_s=3600) == 0
    assert await payments.poll_pending(session, first_after_s=0) == 1
    await session.commit()
    assert await payments.poll_pending(session, first_after_s=0) == 0
    await session.commit()
    mine = (await live.api.get(f"/api/v1/orders/{order['order_no']}", headers=h)).json()
    assert mine["status"] == "delivered"
    assert mine["keys"][0]["secret"] in secrets
    # the notice arriving late changes nothing
    assert (await live.sim.send(out, live.sim.notice(out))).text == "success"
    delivered = (await session.execute(select(func.count()).select_from(OrderKey))).scalar()
    assert delivered == 1
    # an unpaid one is left alone
    r = await live.api.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "pay_method": "epay"},
        headers={**h, "idempotency-key": uuid.uuid4().hex},
    )
    await _checkout(live, r.json()["pay_url"])
    assert await payments.poll_pending(session, first_after_s=0) == 0


async def test_a_paid_recharge_behind_sixty_abandoned_checkouts_is_credited(
    live: Live, session: AsyncSession
) -> None:
    """Notices lost (the gateway answered while we were away), and 60 older checkouts that
    nobody paid: the poll still reaches the newest payment within a few runs, and backs off
    on the abandoned ones instead of asking about them every time."""
    from datetime import timedelta

    from kameng_api.core.metrics import PAYMENTS_PENDING
    from kameng_api.payments import service as payments

    abandoned = await make_user(kind=UserKind.customer)
    hours_ago = (await session.execute(select(func.now()))).scalar_one() - timedelta(hours=2)
    session.add_all(
        Payment(
            out_trade_no=f"abandoned{i:04d}",
            purpose="recharge",
            user_id=abandoned.user.id,
            amount=Decimal("5"),
            created_at=hours_ago,
        )
        for i in range(60)
    )
    await session.commit()
    buyer = await make_user(kind=UserKind.customer)
    h = await login(live.api, buyer)
    r = await live.api.post("/api/v1/wallet/me/recharges", json={"amount": "20"}, headers=h)
    out = await _checkout(live, r.json()["pay_url"])
    live.sim.orders[out].paid = True  # paid, every notice lost

    runs = 0
    while await wallet.balance(session, buyer.user.id) == 0:
        runs += 1
        assert runs <= 1, "the paid recharge waited behind the abandoned checkouts"
        await payments.poll_pending(session, first_after_s=0)
        await session.commit()
        session.expire_all()
    assert await wallet.balance(session, buyer.user.id) == Decimal("20.0000")
    polls = (await session.execute(select(Payment.polls, Payment.next_poll_at))).all()
    asked = [p for p in polls if p.polls > 0]
    assert len(asked) <= 50 * runs  # bounded work per run
    # the next run asks the ten not asked yet; then everyone waits (30 s and more) for the
    # next question
    for _ in range(2):
        assert await payments.poll_pending(session, first_after_s=0) == 0
        await session.commit()
    polls = (await session.execute(select(Payment.polls))).scalars().all()
    assert sorted(set(polls)) == [1]
    assert PAYMENTS_PENDING.labels("1h_to_1d")._value.get() == 60
