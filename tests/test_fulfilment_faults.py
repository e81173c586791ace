"""Delivery under faults, with real worker processes, a real Redis we stop, and a supplier on
a real local port: a worker SIGKILLed in the middle of a delivery, and Redis down while
orders are paid. Each test has its own database and Redis (real commits)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from kameng_api.core import db
from kameng_api.core import redis as core_redis
from kameng_api.embedded import EmbeddedRedis
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.service import DELIVER_TASK, NOTIFY_TASK
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings
from kameng_api.suppliers.simulator import SupplierSimulator
from kameng_api.wallet import service as wallet
from tests.support.factories import login
from tests.support.procs import (
    free_port,
    kameng_env,
    serve_app,
    settings_env,
    start_worker,
    stop,
    wait_for,
)
from tests.test_fulfilment import ACCOUNT_FIELDS, SECRET
from tests.test_orders import _buyer, _idem, _shop

pytestmark = pytest.mark.slow


@pytest.fixture
async def setup(
    wired: dict[str, str],
) -> AsyncIterator[tuple[dict[str, str], SupplierSimulator, httpx.AsyncClient]]:
    """The test's own database and Redis, a supplier on a real port, and the API in-process."""
    from kameng_api.main import create_app

    sim = SupplierSimulator(SECRET)
    port = free_port()
    server, task = await serve_app(sim.app, port)
    env = {
        **wired,
        "KAMENG_RECHARGE_SUPPLIER_URL": f"http://127.0.0.1:{port}",
        "KAMENG_RECHARGE_SUPPLIER_SECRET": SECRET,
        "KAMENG_OUTBOUND_ALLOW_LOOPBACK": "true",
    }
    try:
        with settings_env(**env):
            app = create_app(get_settings())
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                yield env, sim, c
    finally:
        server.should_exit = True
        await task


async def _order(order_no: str) -> Order:
    async with db.unit_of_work() as s:
        return (await s.execute(select(Order).where(Order.order_no == order_no))).scalar_one()


async def _delivered_events(order_id: int) -> int:
    async with db.unit_of_work() as s:
        q = select(func.count()).where(
            OrderEvent.order_id == order_id, OrderEvent.to_status == "delivered"
        )
        return int((await s.execute(q)).scalar_one())


async def _open_jobs(task: str) -> int:
    async with db.unit_of_work() as s:
        q = select(func.count()).where(
            OutboxMessage.task == task,
            OutboxMessage.done_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        return int((await s.execute(q)).scalar_one())


async def _buy(client: httpx.AsyncClient, headers: dict[str, str], sku_id: int) -> dict:  # type: ignore[type-arg]
    body = {"sku_id": sku_id, "buyer_input": {"account": "10086", "region": "安卓QQ"}}
    r = await client.post("/api/v1/orders", json=body, headers={**headers, **_idem()})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_worker_killed_mid_delivery_delivers_exactly_once_after_restart(
    setup: tuple[dict[str, str], SupplierSimulator, httpx.AsyncClient], tmp_path: Path
) -> None:
    env, sim, client = setup
    sim.mode, sim.hang_s = "hang", 3.0  # the supplier takes 3 s to answer the first call
    _, sku_id, _ = await _shop(
        client, 0, price="6.00", delivery_type="direct_recharge", buyer_fields=ACCOUNT_FIELDS
    )
    async with db.unit_of_work() as s:
        account = await _buyer(s, "50")
    h = await login(client, account)
    log = str(tmp_path / "worker.log")
    first = start_worker(kameng_env(**env), log)
    second = None
    try:
        order = await _buy(client, h, sku_id)
        rid = f"{order['order_no']}-1-1"  # <order_no>-<attempt>-<supplier id: the settings one>

        async def submitted() -> bool:
            return rid in sim.requests

        await wait_for(submitted, 30, interval_s=0.02)
        # background work yields the cores to the API's answers (KAMENG_WORKER_NICE)
        assert os.getpriority(os.PRIO_PROCESS, first.pid) == 19
        assert os.sched_getscheduler(first.pid) == os.SCHED_IDLE  # KAMENG_WORKER_IDLE_CLASS
        first.send_signal(signal.SIGKILL)  # the supplier is topping up; we never hear back
        first.wait(5)
        sim.mode = "success"

        async def topped_up() -> bool:
            return sim.topups[rid] == 1

        await wait_for(topped_up, 10)
        assert (await _order(order["order_no"])).status == "delivering"

        second = start_worker(kameng_env(**env), log)

        async def delivered() -> Order | None:
            o = await _order(order["order_no"])
            return o if o.status == "delivered" else None

        o = await wait_for(delivered, 60)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert sim.topups == {rid: 1}  # topped up once
    assert o.supplier_ref == sim.orders[rid].ref
    assert await _delivered_events(o.id) == 1
    async with db.unit_of_work() as s:
        assert await wallet.balance(s, account.user.id) == 44  # charged once


async def test_orders_paid_while_redis_is_down_are_all_delivered_when_it_returns(
    setup: tuple[dict[str, str], SupplierSimulator, httpx.AsyncClient],
    own_redis: EmbeddedRedis,
    tmp_path: Path,
) -> None:
    env, sim, client = setup
    _, recharge_sku, _ = await _shop(
        client, 0, price="6.00", delivery_type="direct_recharge", buyer_fields=ACCOUNT_FIELDS
    )
    _, key_sku, secrets = await _shop(client, 3, price="2.00")
    async with db.unit_of_work() as s:
        account = await _buyer(s, "100")
    h = await login(client, account)
    worker = start_worker(kameng_env(**env), str(tmp_path / "worker.log"))
    try:
        own_redis.stop()
        await core_redis.close_queue()
        recharges = [await _buy(client, h, recharge_sku) for _ in range(4)]
        r = await client.post(
            "/api/v1/orders", json={"sku_id": key_sku, "quantity": 3}, headers={**h, **_idem()}
        )
        assert r.status_code == 201, r.text  # card keys need no Redis: delivered at once
        assert sorted(k["secret"] for k in r.json()["keys"]) == sorted(secrets)
        assert all(o["status"] == "delivering" for o in recharges)
        await asyncio.sleep(3)
        assert [(await _order(o["order_no"])).status for o in recharges] == ["delivering"] * 4
        assert await _open_jobs(DELIVER_TASK) == 4
        assert await _open_jobs(NOTIFY_TASK) == 1

        own_redis.start()

        async def all_done() -> bool:
            statuses = [(await _order(o["order_no"])).status for o in recharges]
            return (
                statuses == ["delivered"] * 4
                and await _open_jobs(DELIVER_TASK) == 0
                and await _open_jobs(NOTIFY_TASK) == 0
            )

        await wait_for(all_done, 60)
    finally:
        stop(worker)
    assert sim.topups == {f"{o['order_no']}-1-1": 1 for o in recharges}
    for o in recharges:
        order = await _order(o["order_no"])
        assert await _delivered_events(order.id) == 1
        assert order.notified_at is not None
