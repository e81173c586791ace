"""Two real kameng instances on loopback: B buys from A through A's signed open API.

Each instance is a real ``kameng serve`` and a real ``kameng worker`` on a database of its own
(the test's; both copied from the migrated template) and its own arq queue. On A, a reseller
makes an API key and points A's callbacks at B's supplier callback route; on B, staff add A as
a ``kameng`` supplier with that key and map a product to A's product. A customer of B buys;
B's worker orders from A (signed, ``out_trade_no`` = B's request id); A delivers (from its own
upstream, a direct-recharge simulator); B learns it from A's signed callback — or, with the
callbacks cut, by polling A — and the customer's order is delivered. A's reseller was charged
once per order; forged and mis-bound callbacks at B's route change nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kameng_api.core import db
from kameng_api.core import redis as core_redis
from kameng_api.core.actor import UserKind
from kameng_api.embedded import EmbeddedRedis
from kameng_api.orders.models import Order
from kameng_api.resellers import signing
from kameng_api.resellers.client import OpenApiClient
from kameng_api.resellers.models import OpenOrder
from kameng_api.settings import get_settings
from kameng_api.suppliers.simulator import SupplierSimulator
from kameng_api.wallet import service as wallet
from tests.conftest import Servers, _exec_admin
from tests.support.factories import Account, login, make_user
from tests.support.procs import free_port, kameng_env, serve_app, settings_env, stop, wait_for

ACCOUNT_FIELDS = [{"key": "account", "label": "充值账号", "max_length": 32}]
SIM_SECRET = "twin-sim-secret"


@dataclass
class Instance:
    name: str
    db_url: str
    env: dict[str, str]
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(inst: Instance, log_dir: Path) -> None:
    cli = [sys.executable, "-m", "kameng_api.cli"]
    for what, args in (("serve", ["serve", "--port", str(inst.port)]), ("worker", ["worker"])):
        log = open(log_dir / f"{inst.name}-{what}.log", "ab")  # noqa: SIM115
        inst.procs.append(
            subprocess.Popen(
                [*cli, *args],
                env=inst.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )


@asynccontextmanager
async def _instances(
    servers: Servers, template_db: str, tmp_path: Path, poll_s: int, redis_url: str
) -> AsyncIterator[list[Instance]]:
    made: list[Instance] = []
    try:
        for name in ("a", "b"):
            dbname = f"kameng_twin_{name}_{uuid.uuid4().hex[:6]}"
            await _exec_admin(
                servers.admin_dsn, f'CREATE DATABASE "{dbname}" TEMPLATE "{template_db}"'
            )
            env = kameng_env(
                KAMENG_DATABASE_URL=servers.url(dbname),
                KAMENG_QUEUE_NAME=f"q:{dbname}",
                # a Redis of the test's own: sign-in throttles, nonces and breakers of earlier
                # tests (a fuzzer's failed sign-ins lock 127.0.0.1 out) are not this test's
                KAMENG_REDIS_URL=redis_url,
                KAMENG_OUTBOUND_ALLOW_LOOPBACK="true",
                KAMENG_RECHARGE_SUPPLIER_URL="",
                # A asks its own upstream every second; B asks A after poll_s
                KAMENG_RECHARGE_POLL_S=str(poll_s if name == "b" else 1),
                KAMENG_CALLBACK_RETRY_S="0.5,1,2",
                KAMENG_SMTP_HOST="",
            )
            made.append(Instance(name, servers.url(dbname), env, free_port()))
            _start(made[-1], tmp_path)
        yield made
    finally:
        for inst in made:
            for p in inst.procs:
                stop(p)
        for inst in made:
            dbname = inst.db_url.rsplit("/", 1)[1].split("?")[0]
            await _exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@asynccontextmanager
async def _on(inst: Instance) -> AsyncIterator[None]:
    """Point this test process's kameng globals (factories, services) at an instance's DB."""
    with settings_env(
        KAMENG_DATABASE_URL=inst.db_url,
        KAMENG_QUEUE_NAME=inst.env["KAMENG_QUEUE_NAME"],
        KAMENG_REDIS_URL=inst.env["KAMENG_REDIS_URL"],
    ):
        await db.dispose_engine()
        await core_redis.close_queue()
        db.init_engine(get_settings(), pool_size=2, max_overflow=0)
        try:
            yield
        finally:
            await core_redis.close_queue()
            await db.dispose_engine()


async def _up(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _card_product(
    client: httpx.AsyncClient, staff: dict[str, str], price: str, secrets: list[str]
) -> int:
    """A listed card-key product with one SKU and ``secrets`` in stock."""
    cat = (
        await client.post(
            "/api/v1/catalog/categories", json={"name": f"c{uuid.uuid4().hex[:6]}"}, headers=staff
        )
    ).json()["id"]
    r = await client.post(
        "/api/v1/catalog/products",
        json={
            "category_id": cat,
            "name": f"点卡 {uuid.uuid4().hex[:4]}",
            "delivery_type": "card_key",
            "status": "listed",
            "skus": [{"name": "30元", "base_price": price, "cost_price": "1.00"}],
        },
        headers=staff,
    )
    assert r.status_code == 201, r.text
    sku_id = int(r.json()["product"]["skus"][0]["id"])
    if secrets:
        r = await client.post(
            "/api/v1/inventory/imports",
            data={"sku_id": str(sku_id), "text": "\n".join(secrets), "format": "secret"},
            headers=staff,
        )
        assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=staff)
        assert r.json()["imported_count"] == len(secrets), r.text
    return sku_id


async def _recharge_product(client: httpx.AsyncClient, staff: dict[str, str], price: str) -> int:
    cat = (
        await client.post(
            "/api/v1/catalog/categories", json={"name": f"c{uuid.uuid4().hex[:6]}"}, headers=staff
        )
    ).json()["id"]
    r = await client.post(
        "/api/v1/catalog/products",
        json={
            "category_id": cat,
            "name": f"话费 {uuid.uuid4().hex[:4]}",
            "delivery_type": "direct_recharge",
            "status": "listed",
            "buyer_fields": ACCOUNT_FIELDS,
            "skus": [{"name": "10元", "base_price": price, "cost_price": "1.00"}],
        },
        headers=staff,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["product"]["skus"][0]["id"])


async def _map(
    client: httpx.AsyncClient, admin: dict[str, str], sku_id: int, supplier: dict[str, Any]
) -> int:
    product = supplier.pop("_product")
    r = await client.post("/api/v1/suppliers", json=supplier, headers=admin)
    assert r.status_code == 201, r.text
    sid = int(r.json()["id"])
    r = await client.post(
        f"/api/v1/skus/{sku_id}/supplier-mappings",
        json={"supplier_id": sid, "supplier_product_id": product},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return sid


@dataclass
class Docked:
    a: Instance
    b: Instance
    ca: httpx.AsyncClient
    cb: httpx.AsyncClient
    sim: SupplierSimulator
    reseller: Account
    reseller_h: dict[str, str]
    whsec: str
    key: dict[str, Any]  # the reseller's key at A (app_id, secret)
    supplier_id: int  # A as B's supplier
    sku_b: int
    staff_a: dict[str, str]
    staff_b: dict[str, str]


@pytest.fixture
async def docked(
    request: pytest.FixtureRequest,
    servers: Servers,
    template_db: str,
    tmp_path: Path,
    own_redis: EmbeddedRedis,
) -> AsyncIterator[Docked]:
    """``@pytest.mark.poll_s(n)``: how long B waits before asking A again (default 1 s)."""
    marker = request.node.get_closest_marker("poll_s")
    poll_s = int(marker.args[0]) if marker else 1
    sim = SupplierSimulator(SIM_SECRET, mode="processing")
    sim_port = free_port()
    sim_server, sim_task = await serve_app(sim.app, sim_port)
    async with (
        _instances(servers, template_db, tmp_path, poll_s, own_redis.url) as (a, b),
        httpx.AsyncClient(base_url=a.url, timeout=20) as ca,
        httpx.AsyncClient(base_url=b.url, timeout=20) as cb,
    ):
        await wait_for(lambda: _up(ca), 60)
        await wait_for(lambda: _up(cb), 60)
        # --- A: a direct-recharge product served by the simulator; a reseller with money
        async with _on(a):
            admin_a = await make_user(roles=("super_admin",), mfa=True)
            reseller = await make_user(kind=UserKind.reseller)
            async with db.unit_of_work() as s:
                await wallet.recharge(s, reseller.user.id, Decimal("100"), payment_id=1)
        ah = await login(ca, admin_a)
        sku_a = await _recharge_product(ca, ah, "8.00")
        await _map(
            ca,
            ah,
            sku_a,
            {
                "name": "直充模拟上游",
                "protocol": "http_json",
                "base_url": f"http://127.0.0.1:{sim_port}",
                "credentials": {"secret": SIM_SECRET},
                "_product": "TOPUP-10",
            },
        )
        rh = await login(ca, reseller)
        r = await ca.post("/api/v1/account/reseller/keys", json={"name": "B"}, headers=rh)
        assert r.status_code == 201, r.text
        key = r.json()
        r = await ca.post("/api/v1/account/reseller/callback/rotate-secret", headers=rh)
        assert r.status_code == 200, r.text
        whsec = r.json()["webhook_secret"]
        # --- B: A as a kameng supplier with that key, mapped to A's product
        async with _on(b):
            admin_b = await make_user(roles=("super_admin",), mfa=True)
        bh = await login(cb, admin_b)
        sku_b = await _recharge_product(cb, bh, "10.00")
        sid = await _map(
            cb,
            bh,
            sku_b,
            {
                "name": "卡盟 A",
                "protocol": "kameng",
                "base_url": a.url,
                "credentials": {
                    "app_id": key["app_id"],
                    "secret": key["secret"],
                    "webhook_secret": whsec,
                },
                "_product": str(sku_a),
            },
        )
        r = await ca.put(
            "/api/v1/account/reseller/callback",
            json={"callback_url": f"{b.url}/api/v1/suppliers/{sid}/callback"},
            headers=rh,
        )
        assert r.status_code == 200, r.text
        yield Docked(a, b, ca, cb, sim, reseller, rh, whsec, key, sid, sku_b, ah, bh)
    sim_server.should_exit = True
    await sim_task


async def _customer_buys(d: Docked) -> tuple[dict[str, str], dict[str, Any]]:
    async with _on(d.b):
        buyer = await make_user(kind=UserKind.customer)
        async with db.unit_of_work() as s:
            await wallet.recharge(
                s, buyer.user.id, Decimal("50"), payment_id=uuid.uuid4().int % 10**9
            )
    h = await login(d.cb, buyer)
    r = await d.cb.post(
        "/api/v1/orders",
        json={"sku_id": d.sku_b, "buyer_input": {"account": "13800000000"}},
        headers={**h, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    return h, r.json()


async def _status(client: httpx.AsyncClient, h: dict[str, str], order_no: str) -> str:
    r = await client.get(f"/api/v1/orders/{order_no}", headers=h)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def _a_orders(d: Docked) -> list[tuple[str, str]]:
    """A's orders placed through the open API: (out_trade_no, status)."""
    async with _on(d.a), db.unit_of_work() as s:
        rows = await s.execute(
            select(OpenOrder.out_trade_no, Order.status).join(Order, Order.id == OpenOrder.order_id)
        )
        return [(str(n), str(st)) for n, st in rows]


@pytest.mark.poll_s(300)  # B would not ask A again within the test: only the callback tells it
async def test_b_buys_from_a_and_learns_the_outcome_by_callback(docked: Docked) -> None:
    d = docked
    h, order = await _customer_buys(d)
    # B's worker ordered at A through the signed API; A's order waits on A's own upstream
    placed = await wait_for(_a_orders_nonempty(d), 30)
    assert len(placed) == 1
    out_trade_no = placed[0][0]
    assert out_trade_no.startswith(order["order_no"])
    assert await _status(d.cb, h, order["order_no"]) == "delivering"
    # A's upstream finishes: A delivers, calls B back (signed); B delivers the customer
    (request_id,) = await _sim_orders(d)
    d.sim.finish(request_id)
    await wait_for(lambda: _is(d.cb, h, order["order_no"], "delivered"), 40)
    assert await _a_orders(d) == [(out_trade_no, "delivered")]
    # the reseller was charged once at A, the callback was acknowledged once
    async with OpenApiClient(d.a.url, d.key["app_id"], d.key["secret"]) as open_api:
        assert await open_api.balance() == Decimal("92")  # 100 - one order of 8.00

    async def acknowledged() -> list[dict[str, Any]] | None:
        r = await d.ca.get("/api/v1/account/reseller/callbacks", headers=d.reseller_h)
        assert r.status_code == 200, r.text
        done = [c for c in r.json()["items"] if c["status"] == "delivered"]
        return done or None

    (callback,) = await wait_for(acknowledged, 20)
    assert callback["event"] == "order.delivered"
    r = await d.ca.get(f"/api/v1/account/reseller/callbacks/{callback['id']}", headers=d.reseller_h)
    assert [a["status_code"] for a in r.json()["attempt_log"]] == [200], r.json()


async def test_with_callbacks_cut_b_learns_by_polling(docked: Docked) -> None:
    d = docked
    r = await d.ca.put(
        "/api/v1/account/reseller/callback", json={"callback_url": None}, headers=d.reseller_h
    )
    assert r.status_code == 200, r.text
    h, order = await _customer_buys(d)
    await wait_for(_a_orders_nonempty(d), 30)
    (request_id,) = await _sim_orders(d)
    d.sim.finish(request_id)
    await wait_for(lambda: _is(d.cb, h, order["order_no"], "delivered"), 60)
    assert [st for _, st in await _a_orders(d)] == ["delivered"]


async def test_forged_and_misbound_callbacks_change_nothing(docked: Docked) -> None:
    d = docked
    h, order = await _customer_buys(d)
    placed = await wait_for(_a_orders_nonempty(d), 30)
    out_trade_no = placed[0][0]
    url = f"/api/v1/suppliers/{d.supplier_id}/callback"

    def notice(rid: str, secret: str) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {"type": "order.delivered", "data": {"out_trade_no": rid, "status": "delivered"}}
        ).encode()
        ts = int(time.time())
        mid = f"msg_{uuid.uuid4().hex}"
        sig = signing.webhook_signature(secret, mid, ts, body)
        headers = {
            "webhook-id": mid,
            "webhook-timestamp": str(ts),
            "webhook-signature": sig,
            "content-type": "application/json",
        }
        return headers, body

    # forged: signed with another secret
    headers, body = notice(out_trade_no, signing.new_webhook_secret())
    r = await d.cb.post(url, headers=headers, content=body)
    assert r.status_code == 401, r.text
    # mis-bound: correctly signed, but naming an order B never sent to A
    headers, body = notice(f"{order['order_no']}-9-{d.supplier_id}", d.whsec)
    r = await d.cb.post(url, headers=headers, content=body)
    assert r.json() == {"result": "unknown"}, r.text
    # ... nor to this supplier: another supplier's route with A's good signature
    headers, body = notice(out_trade_no, d.whsec)
    r = await d.cb.post(
        f"/api/v1/suppliers/{d.supplier_id + 999}/callback", headers=headers, content=body
    )
    assert r.status_code == 404, r.text
    await asyncio.sleep(1.5)  # anything wrongly believed would have delivered by now
    assert await _status(d.cb, h, order["order_no"]) == "delivering"
    assert [st for _, st in await _a_orders(d)] == ["delivering"]


async def _sim_orders(d: Docked) -> list[str]:
    """A's upstream has been asked to top up (A's worker got there)."""

    async def probe() -> list[str] | None:
        return list(d.sim.orders) or None

    return await wait_for(probe, 30)


def _a_orders_nonempty(d: Docked) -> Any:
    async def probe() -> list[tuple[str, str]] | None:
        return await _a_orders(d) or None

    return probe


async def _is(client: httpx.AsyncClient, h: dict[str, str], order_no: str, status: str) -> bool:
    return await _status(client, h, order_no) == status


async def test_b_sells_card_keys_bought_from_a_and_the_customer_sees_the_key(
    docked: Docked,
) -> None:
    """B has no keys of a card product; it buys them on demand from A's stock through A's
    open API; B's customer sees exactly a key A had, A has sold it once."""
    d = docked
    a_secrets = [f"A-KEY-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    sku_a = await _card_product(d.ca, d.staff_a, "25.00", a_secrets)
    sku_b = await _card_product(d.cb, d.staff_b, "30.00", [])
    r = await d.cb.post(
        f"/api/v1/skus/{sku_b}/supplier-mappings",
        json={"supplier_id": d.supplier_id, "supplier_product_id": str(sku_a)},
        headers=d.staff_b,
    )
    assert r.status_code == 201, r.text
    async with _on(d.b):
        buyer = await make_user(kind=UserKind.customer)
        async with db.unit_of_work() as s:
            await wallet.recharge(s, buyer.user.id, Decimal("50"), payment_id=777)
    h = await login(d.cb, buyer)
    r = await d.cb.post(
        "/api/v1/orders",
        json={"sku_id": sku_b, "quantity": 1},
        headers={**h, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    order_no = r.json()["order_no"]
    await wait_for(lambda: _is(d.cb, h, order_no, "delivered"), 40)
    r = await d.cb.get(f"/api/v1/orders/{order_no}", headers=h)
    (got,) = [k["secret"] for k in r.json()["keys"]]
    assert got in a_secrets
    # at A: one open-API order for B's request, delivered, holding that very key
    placed = [(n, st) for n, st in await _a_orders(d) if n.startswith(order_no)]
    assert [st for _, st in placed] == ["delivered"]
    async with OpenApiClient(d.a.url, d.key["app_id"], d.key["secret"]) as open_api:
        at_a = await open_api.get_order(placed[0][0])
        assert at_a is not None
        assert [k["secret"] for k in at_a["keys"]] == [got]
        assert await open_api.balance() == Decimal("75")  # 100 - one key at 25.00
