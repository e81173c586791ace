"""Upstream suppliers: routing, failover, circuit breaking, polling and callbacks, against
two Fulu-protocol simulators on real local ports (a primary and a backup), configured through
the staff API; and the staff API itself (credentials encrypted and write-only, step-up).

Delivery jobs are run exactly as the worker runs them (``run_outbox_job``); the SIGKILL test
of the routing job is ``tests/test_fulfilment_faults.py`` (it goes through the same routing
with the settings supplier).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq import Retry
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts.models import Alert
from kameng_api.audit.models import AuditLog
from kameng_api.core.redis import get_queue
from kameng_api.orders.service import DELIVER_TASK
from kameng_api.outbox.models import OutboxMessage
from kameng_api.suppliers import breaker
from kameng_api.suppliers.fulu_simulator import FuluSimulator
from kameng_api.suppliers.models import Supplier, UpstreamOrder
from kameng_api.wallet import service as wallet
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env
from tests.test_fulfilment import ACCOUNT_FIELDS, _jobs, _order, _run
from tests.test_orders import _buyer, _idem, _shop

APP_KEY = "fulu-app-key"


@dataclass
class Upstreams:
    primary: FuluSimulator
    backup: FuluSimulator
    primary_id: int
    backup_id: int
    primary_port: int
    sku_id: int
    admin: dict[str, str]
    servers: list[Any]


async def _clear_breakers() -> None:
    r = get_queue()
    keys = [k async for k in r.scan_iter(match="kameng:breaker:*")]
    if keys:
        await r.delete(*keys)


async def _supplier(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, url: str, secret: str, **kw: Any
) -> int:
    r = await client.post(
        "/api/v1/suppliers",
        json={
            "name": name,
            "protocol": "fulu",
            "base_url": url,
            "credentials": {"app_key": APP_KEY, "app_secret": secret},
            "timeout_s": 1.0,
            **kw,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
async def up(client: httpx.AsyncClient, app_db: str) -> AsyncIterator[Upstreams]:
    """Two Fulu suppliers on real ports; a direct-recharge SKU mapped to both (primary first)."""
    env = {
        "KAMENG_OUTBOUND_ALLOW_LOOPBACK": "true",
        "KAMENG_RECHARGE_SUPPLIER_URL": "",
        "KAMENG_SUPPLIER_BREAKER_MIN_CALLS": "3",
        "KAMENG_SUPPLIER_BREAKER_COOLDOWN_S": "1",
    }
    with settings_env(**env):
        await _clear_breakers()
        primary = FuluSimulator(APP_KEY, "primary-secret-0123456789abcdef!!", hang_s=2.5)
        backup = FuluSimulator(APP_KEY, "backup-secret-0123456789abcdef!!!", hang_s=2.5)
        p_port, b_port = free_port(), free_port()
        servers = [await serve_app(primary.app, p_port), await serve_app(backup.app, b_port)]
        admin = await login(client, await make_user(roles=("super_admin",), mfa=True))
        pid = await _supplier(
            client, admin, "福禄主", f"http://127.0.0.1:{p_port}/api/getway", primary.secret
        )
        bid = await _supplier(
            client, admin, "福禄备", f"http://127.0.0.1:{b_port}/api/getway", backup.secret
        )
        _, sku_id, _ = await _shop(
            client, 0, price="6.00", delivery_type="direct_recharge", buyer_fields=ACCOUNT_FIELDS
        )
        for sid, prio, product in ((pid, 10, "10000001"), (bid, 20, "90000001")):
            r = await client.post(
                f"/api/v1/skus/{sku_id}/supplier-mappings",
                json={"supplier_id": sid, "supplier_product_id": product, "priority": prio},
                headers=admin,
            )
            assert r.status_code == 201, r.text
        u = Upstreams(primary, backup, pid, bid, p_port, sku_id, admin, servers)
        try:
            yield u
        finally:
            for server, task in u.servers:
                server.should_exit = True
                await task
            await _clear_breakers()


async def _buy(client: httpx.AsyncClient, session: AsyncSession, sku_id: int) -> dict[str, Any]:
    account = await _buyer(session, "100")
    h = await login(client, account)
    r = await client.post(
        "/api/v1/orders",
        json={"sku_id": sku_id, "buyer_input": {"account": "10086", "region": "安卓QQ"}},
        headers={**h, **_idem()},
    )
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    order["buyer_id"] = account.user.id
    return order


async def _open_job(session: AsyncSession, order_id: int) -> OutboxMessage:
    jobs = [
        j
        for j in await _jobs(session, DELIVER_TASK)
        if j.payload["order_id"] == order_id and j.done_at is None
    ]
    assert jobs, "no open delivery job"
    return jobs[-1]


async def _deliver(session: AsyncSession, order_id: int) -> str:
    """Run the order's open delivery job once ("retry" when it asks to be retried)."""
    job = await _open_job(session, order_id)
    try:
        return await _run(job.id)
    except Retry:
        return "retry"


async def _rows(session: AsyncSession, order_id: int) -> list[UpstreamOrder]:
    session.expire_all()
    q = select(UpstreamOrder).where(UpstreamOrder.order_id == order_id).order_by(UpstreamOrder.id)
    return list((await session.execute(q)).scalars())


def _rid(order: dict[str, Any], supplier_id: int) -> str:
    return f"{order['order_no']}-1-{supplier_id}"


async def test_success_at_the_primary_orders_once(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    assert o.upstream_started_at is not None
    ref = o.supplier_ref
    rid = _rid(order, up.primary_id)
    assert up.primary.topups == {rid: 1}
    assert up.backup.calls == {}
    [row] = await _rows(session, order["id"])
    assert (row.state, row.request_id, row.supplier_product_id) == ("success", rid, "10000001")
    assert row.latency_ms is not None
    assert row.cost == Decimal("5.5000")
    assert ref == up.primary.orders[rid].order_id
    # the order's detail shows it
    r = await client.get(
        f"/api/v1/admin/orders/{order['order_no']}/upstream-orders", headers=up.admin
    )
    assert [u["state"] for u in r.json()] == ["success"]


async def test_a_timeout_is_queried_not_ordered_again(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = "timeout"  # takes the order, answers after 2.5 s; we wait 1 s
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "retry"
    [row] = await _rows(session, order["id"])
    assert row.state == "unknown"
    up.primary.mode = "success"
    assert await _deliver(session, order["id"]) == "done"
    assert (await _order(session, order["order_no"])).status == "delivered"
    assert up.primary.topups == {_rid(order, up.primary_id): 1}
    assert up.primary.calls["fulu.order.direct.add"] == 1  # asked, never ordered again
    assert up.primary.calls["fulu.order.info.get"] == 1
    assert up.backup.calls == {}  # an order of unknown fate never goes to another supplier


async def test_http_500s_are_retried_then_the_same_request_is_sent(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = "http500"
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "retry"
    assert await _deliver(session, order["id"]) == "retry"  # the query gets a 500 too
    assert up.backup.calls == {}
    up.primary.mode = "success"
    assert await _deliver(session, order["id"]) == "done"  # query: never heard of it → submit
    rid = _rid(order, up.primary_id)
    assert up.primary.topups == {rid: 1}
    assert (await _order(session, order["order_no"])).status == "delivered"


async def test_processing_is_polled_until_success(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = "untreated"
    order = await _buy(client, session, up.sku_id)
    first = await _open_job(session, order["id"])
    assert await _run(first.id) == "done"
    assert (await _order(session, order["order_no"])).status == "delivering"
    poll = await _open_job(session, order["id"])
    assert poll.id != first.id
    assert poll.payload["query_first"] is True
    assert poll.available_at > first.created_at  # asked later, not at once
    assert await _run(poll.id) == "done"  # still processing: another, later poll
    poll2 = await _open_job(session, order["id"])
    assert poll2.available_at - poll2.created_at > poll.available_at - poll.created_at  # backs off
    up.primary.finish(_rid(order, up.primary_id))
    assert await _run(poll2.id) == "done"
    assert (await _order(session, order["order_no"])).status == "delivered"
    assert up.primary.calls["fulu.order.direct.add"] == 1
    assert up.primary.topups == {_rid(order, up.primary_id): 1}


async def test_processing_then_a_callback_delivers_and_replays_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = "processing"
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    rid = _rid(order, up.primary_id)
    up.primary.finish(rid)
    url = f"/api/v1/suppliers/{up.primary_id}/callback"
    r = await client.post(url, content=up.primary.notice(rid))
    assert r.status_code == 200, r.text
    assert r.json() == {"result": "success"}
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    delivered_at = o.delivered_at
    # the same notice again (a replay), and a signed "failed" after success: nothing changes
    r = await client.post(url, content=up.primary.notice(rid))
    assert r.json() == {"result": "settled"}
    up.primary.orders[rid].status = "failed"
    r = await client.post(url, content=up.primary.notice(rid))
    assert r.json() == {"result": "settled"}
    o = await _order(session, order["order_no"])
    assert (o.status, o.delivered_at) == ("delivered", delivered_at)
    # the poll that was scheduled finds it settled
    assert await _deliver(session, order["id"]) == "done"
    assert up.primary.topups == {rid: 1}


async def test_forged_and_misbound_callbacks_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = "processing"
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    rid = _rid(order, up.primary_id)
    up.primary.finish(rid)
    good = up.primary.notice(rid)
    # forged: the body changed after signing
    forged = good.replace(b'"success"', b'"failed"')
    r = await client.post(f"/api/v1/suppliers/{up.primary_id}/callback", content=forged)
    assert r.status_code == 401
    assert r.json()["code"] == "bad_callback"
    # the primary's valid notice sent to the backup's route: wrong signature there
    r = await client.post(f"/api/v1/suppliers/{up.backup_id}/callback", content=good)
    assert r.status_code == 401
    # the backup, correctly signed, naming the primary's order: not its order
    up.backup.orders[rid] = up.primary.orders[rid]
    r = await client.post(
        f"/api/v1/suppliers/{up.backup_id}/callback", content=up.backup.notice(rid)
    )
    assert r.json() == {"result": "unknown"}
    # the primary, correctly signed, naming an order we never sent it
    up.primary.orders["NO-SUCH-1-1"] = up.primary.orders[rid]
    up.primary.orders["NO-SUCH-1-1"].customer_order_no = "NO-SUCH-1-1"
    r = await client.post(
        f"/api/v1/suppliers/{up.primary_id}/callback", content=up.primary.notice("NO-SUCH-1-1")
    )
    assert r.json() == {"result": "unknown"}
    r = await client.post("/api/v1/suppliers/999999/callback", content=good)
    assert r.status_code == 404
    assert (await _order(session, order["order_no"])).status == "delivering"
    [row] = await _rows(session, order["id"])
    assert row.state == "processing"


async def test_a_failed_primary_fails_over_to_the_backup(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.product_modes["10000001"] = "failed"
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    rows = await _rows(session, order["id"])
    assert [(r.supplier_id, r.state) for r in rows] == [
        (up.primary_id, "failed"),
        (up.backup_id, "success"),
    ]
    assert up.primary.topups == {}
    assert up.backup.topups == {_rid(order, up.backup_id): 1}
    assert up.backup.orders[_rid(order, up.backup_id)].product_id == "90000001"


async def test_all_suppliers_failing_refunds_fails_and_alerts(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    up.primary.mode = up.backup.mode = "failed"
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "refunded"
    assert o.refunded_total == Decimal("6.0000")
    assert await wallet.balance(session, order["buyer_id"]) == Decimal("100.0000")
    [alert] = (
        await session.execute(select(Alert).where(Alert.kind == "supplier_all_failed"))
    ).scalars()
    assert alert.subject == f"order:{order['order_no']}"
    assert up.primary.topups == {}
    assert up.backup.topups == {}


async def test_the_breaker_opens_skips_the_dead_supplier_and_a_probe_closes_it(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    # the primary dies: nothing listens on its port
    server, task = up.servers[0]
    server.should_exit = True
    await task
    up.servers = up.servers[1:]
    orders = [await _buy(client, session, up.sku_id) for _ in range(5)]
    for o in orders:
        assert await _deliver(session, o["id"]) == "done"
        assert (await _order(session, o["order_no"])).status == "delivered"
    state = await breaker.state(up.primary_id)
    assert state.state == "open"
    assert state.errors == 3
    # after it opened, the primary was not called at all
    for o in orders[3:]:
        assert [r.supplier_id for r in await _rows(session, o["id"])] == [up.backup_id]
    r = await client.get(f"/api/v1/suppliers/{up.primary_id}/circuit", headers=up.admin)
    assert r.json()["state"] == "open"
    # it comes back; after the cool-down one probe goes to it and closes the circuit
    alive = FuluSimulator(APP_KEY, up.primary.secret)
    up.servers.append(await serve_app(alive.app, up.primary_port))
    await asyncio.sleep(1.1)
    o = await _buy(client, session, up.sku_id)
    assert await _deliver(session, o["id"]) == "done"
    assert alive.topups == {_rid(o, up.primary_id): 1}
    assert (await breaker.state(up.primary_id)).state == "closed"


async def test_staff_reset_a_circuit_and_see_health(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    for _ in range(3):
        await breaker.record(up.backup_id, False)
    assert (await breaker.state(up.backup_id)).state == "open"
    r = await client.post(f"/api/v1/suppliers/{up.backup_id}/circuit/reset", headers=up.admin)
    assert r.status_code == 200
    assert r.json()["state"] == "closed"
    r = await client.get(f"/api/v1/suppliers/{up.primary_id}/health", headers=up.admin)
    h = r.json()
    assert (h["orders"], h["succeeded"], h["success_rate"]) == (1, 1, 1.0)
    assert h["p50_latency_ms"] is not None
    assert h["p95_latency_ms"] is not None
    # test connection = balance; below the threshold → an alert row
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}",
        json={"low_balance_threshold": "20000"},
        headers=up.admin,
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/suppliers/{up.primary_id}/test", headers=up.admin)
    assert r.json()["ok"] is True
    assert r.json()["balance"] == "9994.5000"
    kinds = (await session.execute(select(Alert.kind))).scalars().all()
    assert "supplier_low_balance" in kinds
    r = await client.get(f"/api/v1/suppliers/{up.primary_id}/catalogue", headers=up.admin)
    assert [(i["product_id"], i["cost"], i["available"]) for i in r.json()] == [
        ("10000001", "9.8500", True),
        ("20000001", "29.5000", False),
    ]
    actions = set(
        (await session.execute(select(AuditLog.action).where(AuditLog.action.like("suppliers.%"))))
        .scalars()
        .all()
    )
    assert {"suppliers.create", "suppliers.mapping_create", "suppliers.circuit_reset"} <= actions
    assert {"suppliers.update", "suppliers.test"} <= actions


async def test_credentials_are_encrypted_write_only_and_need_step_up(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    raw = (
        await session.execute(
            text("SELECT credentials_enc FROM suppliers WHERE id = :i"), {"i": up.primary_id}
        )
    ).scalar_one()
    assert up.primary.secret not in raw
    assert APP_KEY not in raw
    r = await client.get(f"/api/v1/suppliers/{up.primary_id}", headers=up.admin)
    assert r.json()["credential_fields"] == ["app_key", "app_secret"]
    assert up.primary.secret not in r.text
    # a super admin without 2FA may edit the rest, not the credentials
    plain = await login(client, await make_user(roles=("super_admin",)))
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}", json={"timeout_s": 2}, headers=plain
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}",
        json={"credentials": {"app_key": "x", "app_secret": "y"}},
        headers=plain,
    )
    assert r.status_code == 403
    assert r.json()["code"] == "mfa_enrollment_required"
    # an operator reads, never writes
    op = await login(client, await make_user(roles=("operator",)))
    assert (await client.get("/api/v1/suppliers", headers=op)).status_code == 200
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}", json={"enabled": False}, headers=op
    )
    assert r.status_code == 403
    # with a fresh 2FA the credentials change (and the log says which, never their values)
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}",
        json={"credentials": {"app_key": APP_KEY, "app_secret": "new-secret-0123456789abcdef!!!!"}},
        headers=up.admin,
    )
    assert r.status_code == 200, r.text
    entry = (
        await session.execute(select(AuditLog).where(AuditLog.action == "suppliers.credentials"))
    ).scalar_one()
    assert "new-secret" not in str(entry.after)
    # a base URL the SSRF guard refuses is refused on save
    r = await client.patch(
        f"/api/v1/suppliers/{up.primary_id}",
        json={"base_url": "http://169.254.169.254/latest"},
        headers=up.admin,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "url_not_allowed"


async def test_the_settings_supplier_is_a_seeded_row(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    from tests.test_fulfilment import SECRET

    with settings_env(
        KAMENG_RECHARGE_SUPPLIER_URL="http://127.0.0.1:1", KAMENG_RECHARGE_SUPPLIER_SECRET=SECRET
    ):
        from kameng_api.core.db import unit_of_work
        from kameng_api.suppliers import service

        async with unit_of_work() as s:
            row = await service.sync_settings_supplier(s)
            assert row is not None
        sup = (
            await session.execute(select(Supplier).where(Supplier.name == "settings"))
        ).scalar_one()
        assert (sup.protocol, sup.serves_unmapped, sup.settings_managed) == (
            "http_json",
            True,
            True,
        )
        assert SECRET not in (sup.credentials_enc or "")
        # a mapped SKU is served by its mappings, not by the settings supplier
        order = await _buy(client, session, up.sku_id)
        assert await _deliver(session, order["id"]) == "done"
        assert [r.supplier_id for r in await _rows(session, order["id"])] == [up.primary_id]


async def test_an_unreachable_supplier_is_waited_for_then_given_up(
    client: httpx.AsyncClient, session: AsyncSession, up: Upstreams
) -> None:
    server, task = up.servers[0]  # the primary is down (connections refused)
    server.should_exit = True
    await task
    up.servers = up.servers[1:]
    up.backup.mode = "failed"
    order = await _buy(client, session, up.sku_id)
    # nothing was ordered at the primary, the backup refused: wait for the primary
    assert await _deliver(session, order["id"]) == "retry"
    assert (await _order(session, order["order_no"])).status == "delivering"
    rows = await _rows(session, order["id"])
    assert [(r.supplier_id, r.state, r.never_reached) for r in rows] == [
        (up.primary_id, "failed", True),
        (up.backup_id, "failed", False),
    ]
    # past the stuck limit with nothing pending anywhere: the buyer gets the money back
    await session.execute(
        text("UPDATE orders SET upstream_started_at = now() - interval '16 minutes' WHERE id = :i"),
        {"i": order["id"]},
    )
    await session.commit()
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "refunded"
    assert up.backup.topups == {}
