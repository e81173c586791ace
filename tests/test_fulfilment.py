"""Delivery beyond our own stock: direct recharge through a supplier on a real local port,
manual delivery by staff, the buyer's delivery mail, re-driving stuck orders, resending.

The delivery job's body is run here exactly as the worker runs it (``run_outbox_job``); the
fault tests with real worker processes are in ``test_fulfilment_faults.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq import Retry
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.fulfilment import service as fulfilment
from kameng_api.notifications.models import Notice
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.service import DELIVER_TASK, NOTIFY_TASK
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.suppliers.simulator import SupplierSimulator
from kameng_api.wallet import service as wallet
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env
from tests.test_accounts_mail import Inbox, inbox  # noqa: F401  (the local SMTP server)
from tests.test_orders import _buyer, _idem, _shop

SECRET = "supplier-shared-secret-42"
ACCOUNT_FIELDS = [
    {"key": "account", "label": "游戏账号", "max_length": 32},
    {"key": "region", "label": "区服", "type": "select", "options": ["安卓QQ", "苹果QQ"]},
]


@dataclass
class Upstream:
    sim: SupplierSimulator
    url: str


@pytest.fixture
async def upstream(app_db: str) -> AsyncIterator[Upstream]:
    """A direct-recharge supplier on a real local port, configured as ours."""
    sim = SupplierSimulator(SECRET)
    port = free_port()
    server, task = await serve_app(sim.app, port)
    url = f"http://127.0.0.1:{port}"
    try:
        with settings_env(
            KAMENG_RECHARGE_SUPPLIER_URL=url,
            KAMENG_RECHARGE_SUPPLIER_SECRET=SECRET,
            KAMENG_OUTBOUND_ALLOW_LOOPBACK="true",  # the simulator is on 127.0.0.1
        ):
            yield Upstream(sim, url)
    finally:
        server.should_exit = True
        await task


async def _jobs(session: AsyncSession, task: str) -> list[OutboxMessage]:
    session.expire_all()
    q = select(OutboxMessage).where(OutboxMessage.task == task).order_by(OutboxMessage.id)
    return list((await session.execute(q)).scalars())


async def _order(session: AsyncSession, order_no: str) -> Order:
    session.expire_all()
    return (await session.execute(select(Order).where(Order.order_no == order_no))).scalar_one()


async def _statuses(session: AsyncSession, order: Order) -> list[str]:
    q = select(OrderEvent.to_status).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    return list((await session.execute(q)).scalars())


async def _buy_recharge(
    client: httpx.AsyncClient, session: AsyncSession, money: str = "100"
) -> tuple[dict[str, str], dict[str, Any], Any]:
    _, sku_id, _ = await _shop(
        client, 0, price="6.00", delivery_type="direct_recharge", buyer_fields=ACCOUNT_FIELDS
    )
    account = await _buyer(session, money)
    h = await login(client, account)
    r = await client.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "buyer_input": {"account": "10086", "region": "安卓QQ"}},
        headers={**h, **_idem()},
    )
    assert r.status_code == 201, r.text
    return h, r.json(), account


async def _run(outbox_id: int, task: str = DELIVER_TASK) -> str:
    return await run_outbox_job(registry[task], outbox_id)


async def test_direct_recharge_tops_up_once_and_delivers(
    client: httpx.AsyncClient, session: AsyncSession, upstream: Upstream
) -> None:
    h, order, account = await _buy_recharge(client, session)
    assert order["status"] == "delivering"
    assert await wallet.balance(session, account.user.id) == Decimal("94.0000")
    [job] = await _jobs(session, DELIVER_TASK)
    assert job.payload == {"order_id": order["id"]}

    # the worker may see the job several times at once: one run does the work
    results = await asyncio.gather(*(_run(job.id) for _ in range(3)))
    assert results.count("done") == 1

    rid = f"{order['order_no']}-1-1"  # <order_no>-<attempt>-<supplier id: the settings one>
    assert upstream.sim.topups == {rid: 1}
    assert upstream.sim.orders[rid].body["account"] == {"account": "10086", "region": "安卓QQ"}
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    assert o.supplier_ref == upstream.sim.orders[rid].ref
    assert await _statuses(session, o) == ["pending_payment", "paid", "delivering", "delivered"]
    assert [j.payload for j in await _jobs(session, NOTIFY_TASK)] == [{"order_id": order["id"]}]

    mine = (await client.get(f"/api/v1/orders/{order['order_no']}", headers=h)).json()
    assert mine["status"] == "delivered"


async def test_a_failed_recharge_fails_the_order_and_refunds_the_balance(
    client: httpx.AsyncClient, session: AsyncSession, upstream: Upstream
) -> None:
    upstream.sim.mode = "fail"
    h, order, account = await _buy_recharge(client, session)
    [job] = await _jobs(session, DELIVER_TASK)
    assert await _run(job.id) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "refunded"
    assert o.refunded_total == Decimal("6.0000")
    assert await _statuses(session, o) == [
        "pending_payment",
        "paid",
        "delivering",
        "failed",
        "refunded",
    ]
    assert await wallet.balance(session, account.user.id) == Decimal("100.0000")
    assert upstream.sim.topups == {}
    mine = (await client.get(f"/api/v1/orders/{order['order_no']}", headers=h)).json()
    assert mine["status"] == "refunded"


async def test_a_processing_recharge_is_asked_again_until_it_completes(
    client: httpx.AsyncClient, session: AsyncSession, upstream: Upstream
) -> None:
    upstream.sim.mode = "processing"
    _, order, _ = await _buy_recharge(client, session)
    [first] = await _jobs(session, DELIVER_TASK)
    assert await _run(first.id) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivering"
    first, again = await _jobs(session, DELIVER_TASK)
    assert again.payload == {"order_id": order["id"], "query_first": True}
    assert again.available_at > first.created_at + timedelta(seconds=5)  # asked later

    rid = f"{order['order_no']}-1-1"  # <order_no>-<attempt>-<supplier id: the settings one>
    upstream.sim.finish(rid)
    submits_before = len(upstream.sim.requests)
    assert await _run(again.id) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    assert upstream.sim.topups == {rid: 1}
    assert len(upstream.sim.requests) == submits_before + 1  # one query, no second submit


async def test_supplier_down_retries_then_a_stuck_order_is_redriven(
    client: httpx.AsyncClient, session: AsyncSession, upstream: Upstream
) -> None:
    _, order, _ = await _buy_recharge(client, session)
    [job] = await _jobs(session, DELIVER_TASK)
    down = f"http://127.0.0.1:{free_port()}"
    with settings_env(KAMENG_RECHARGE_SUPPLIER_URL=down), pytest.raises(Retry):
        await _run(job.id)
    [job] = await _jobs(session, DELIVER_TASK)
    assert job.done_at is None
    assert job.last_error is not None
    assert "SupplierUnavailable" in job.last_error
    job_id = job.id
    o = await _order(session, order["order_no"])
    assert o.status == "delivering"

    # not stuck yet (an open job, and recent): nothing is re-driven
    assert await fulfilment.redrive_stuck(session) == 0
    # its retries ran out and a quarter of an hour passed
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == job_id).values(failed_at=text("now()"))
    )
    await session.execute(
        update(Order)
        .where(Order.id == order["id"])
        .values(updated_at=text("now() - interval '16 minutes'"))
    )
    await session.commit()
    assert await fulfilment.redrive_stuck(session) == 1
    await session.commit()
    assert await fulfilment.redrive_stuck(session) == 0  # its new job is open
    _, redrive = await _jobs(session, DELIVER_TASK)
    assert redrive.payload == {"order_id": order["id"], "query_first": True}

    assert await _run(redrive.id) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    assert "发货超时，自动重新发货" in [
        e.reason
        for e in (
            await session.execute(select(OrderEvent).where(OrderEvent.order_id == o.id))
        ).scalars()
    ]
    assert upstream.sim.topups == {f"{order['order_no']}-1-1": 1}


async def test_no_supplier_configured_keeps_the_order_waiting(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, order, _ = await _buy_recharge(client, session)
    [job] = await _jobs(session, DELIVER_TASK)
    with pytest.raises(Retry):
        await _run(job.id)
    [job] = await _jobs(session, DELIVER_TASK)
    assert job.last_error is not None
    assert "NoSupplier" in job.last_error
    assert (await _order(session, order["order_no"])).status == "delivering"


async def test_staff_fill_the_manual_delivery_form_and_the_buyer_sees_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 0, price="19.90", delivery_type="manual")
    buyer = await login(client, await _buyer(session))
    r = await client.post("/api/v1/orders", json={"sku_id": sku_id}, headers={**buyer, **_idem()})
    assert r.status_code == 201, r.text
    no = r.json()["order_no"]
    assert r.json()["status"] == "delivering"
    assert r.json()["delivery_content"] is None

    form = {"content": "账号 vip-7788 密码 Pa55-word", "note": "月卡已开通"}
    r = await client.post(f"/api/v1/admin/orders/{no}/deliver", json=form, headers=buyer)
    assert r.status_code == 403
    cs = await login(client, await make_user(roles=("customer_service",)))
    r = await client.post(f"/api/v1/admin/orders/{no}/deliver", json={"content": ""}, headers=cs)
    assert r.status_code == 422
    r = await client.post(f"/api/v1/admin/orders/{no}/deliver", json=form, headers=cs)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered"
    assert r.json()["delivery_content"] is None  # the console's view does not show it

    mine = (await client.get(f"/api/v1/orders/{no}", headers=buyer)).json()
    assert mine["status"] == "delivered"
    assert mine["delivery_content"] == form["content"]
    stored = (await _order(session, no)).delivery_content
    assert stored is not None
    assert "vip-7788" not in stored

    r = await client.post(f"/api/v1/admin/orders/{no}/deliver", json=form, headers=cs)
    assert r.status_code == 409
    assert r.json()["code"] == "not_awaiting_delivery"
    assert len(await _jobs(session, NOTIFY_TASK)) == 1
    logged = (
        await session.execute(select(AuditLog).where(AuditLog.action == "orders.deliver"))
    ).scalars()
    [entry] = [e for e in logged if e.result == "ok"]
    assert entry.target_id == no
    assert "vip-7788" not in str(entry.after)  # the goods never reach the log


async def test_resend_queues_the_notice_again_only_after_delivery(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 2)
    buyer = await login(client, await _buyer(session))
    cs = await login(client, await make_user(roles=("customer_service",)))
    with settings_env(
        KAMENG_EPAY_GATEWAY_URL="http://127.0.0.1:9", KAMENG_EPAY_PID="1", KAMENG_EPAY_KEY="k"
    ):
        pending = await client.post(
            "/api/v1/orders",
            json={"sku_id": sku_id, "pay_method": "epay"},
            headers={**buyer, **_idem()},
        )
    assert pending.status_code == 201, pending.text
    no = pending.json()["order_no"]
    r = await client.post(f"/api/v1/admin/orders/{no}/resend", headers=cs)
    assert r.status_code == 409
    assert r.json()["code"] == "nothing_to_resend"

    r = await client.post("/api/v1/orders", json={"sku_id": sku_id}, headers={**buyer, **_idem()})
    no = r.json()["order_no"]
    r = await client.post(f"/api/v1/admin/orders/{no}/resend", headers=buyer)
    assert r.status_code == 403
    r = await client.post(f"/api/v1/admin/orders/{no}/resend", headers=cs)
    assert r.status_code == 200, r.text
    assert r.json()["timeline"][-1]["reason"] == "重发通知"
    jobs = await _jobs(session, NOTIFY_TASK)
    assert [j.payload.get("resend", False) for j in jobs] == [False, True]


async def test_the_buyer_gets_the_keys_by_mail_and_a_notice(
    client: httpx.AsyncClient,
    session: AsyncSession,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    box, port = inbox
    _, sku_id, secrets = await _shop(client, 2, price="5.00")
    account = await _buyer(session)
    h = await login(client, account)
    r = await client.post(
        "/api/v1/orders", json={"sku_id": sku_id, "quantity": 2}, headers={**h, **_idem()}
    )
    no = r.json()["order_no"]
    order_id = (await _order(session, no)).id
    [job] = await _jobs(session, NOTIFY_TASK)
    job_id = job.id
    # a purchase through the lane: its batch's notice job names the order
    assert job.payload == {"order_ids": [order_id]}
    with settings_env(KAMENG_SMTP_HOST="127.0.0.1", KAMENG_SMTP_PORT=str(port)):
        assert await _run(job_id, NOTIFY_TASK) == "done"
    [mail] = [m for m in box.messages if m["To"] == account.user.email]
    assert no in mail["Subject"]
    body = box.text(mail)
    assert sorted(s for s in secrets if s in body) == sorted(secrets)
    assert mail["Message-ID"] == f"<outbox-{job_id}-{order_id}@kameng>"
    notices = (
        await session.execute(select(Notice).where(Notice.user_id == account.user.id))
    ).scalars()
    [notice] = list(notices)
    assert notice.title == "订单已发货"
    assert not any(s in notice.body for s in secrets)  # secrets only by mail and in the API
    assert (await _order(session, no)).notified_at is not None


async def test_a_batch_notice_tells_each_buyer_once_even_when_mail_fails_midway(
    client: httpx.AsyncClient,
    session: AsyncSession,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    from kameng_api.outbox import service as outbox

    box, port = inbox
    _, sku_id, _ = await _shop(client, 3, price="5.00")
    buyers = [await _buyer(session) for _ in range(3)]
    ids = []
    for account in buyers:
        h = await login(client, account)
        r = await client.post("/api/v1/orders", json={"sku_id": sku_id}, headers={**h, **_idem()})
        ids.append((await _order(session, r.json()["order_no"])).id)
    job = await outbox.enqueue(session, NOTIFY_TASK, {"order_ids": ids})
    await session.commit()
    # the second buyer's address is refused by the mail server: the first is told, the
    # second and third go to one job each, and this job is done
    box.refuse = {buyers[1].user.email}
    with settings_env(KAMENG_SMTP_HOST="127.0.0.1", KAMENG_SMTP_PORT=str(port)):
        assert await _run(job.id, NOTIFY_TASK) == "done"
    told = [m["To"] for m in box.messages]
    assert buyers[0].user.email in told
    assert buyers[1].user.email not in told
    singles = [j for j in await _jobs(session, NOTIFY_TASK) if "order_id" in j.payload]
    assert sorted(j.payload["order_id"] for j in singles) == sorted(ids[1:])
    box.refuse = set()
    with settings_env(KAMENG_SMTP_HOST="127.0.0.1", KAMENG_SMTP_PORT=str(port)):
        for j in singles:
            assert await _run(j.id, NOTIFY_TASK) == "done"
    told = [m["To"] for m in box.messages]
    assert sorted(told.count(a.user.email) for a in buyers) == [1, 1, 1]  # each once
