"""Card-key SKUs sourced upstream (issue 18): an empty card-key SKU with supplier mappings is
still sold — paid from the balance, ``delivering``, and its keys bought from the supplier by
the delivery job (the same routing as a direct recharge), stored encrypted like imported keys
and delivered once. Against two Fulu simulators on real local ports (``tests/
test_suppliers.py``'s fixture shape)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kameng_api.core.actor import UserKind
from kameng_api.core.db import unit_of_work
from kameng_api.core.redis import get_queue
from kameng_api.fulfilment import routing
from kameng_api.inventory import service as inventory
from kameng_api.inventory.models import CardKey, ImportBatch
from kameng_api.orders import service as orders
from kameng_api.orders import sourcing
from kameng_api.orders.models import OrderKey
from kameng_api.orders.service import NOTIFY_TASK
from kameng_api.payments.models import Payment
from kameng_api.suppliers.fulu import decrypt_card
from kameng_api.suppliers.fulu_simulator import FuluSimulator
from kameng_api.wallet import service as wallet
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env
from tests.test_fulfilment import _jobs, _order, _run
from tests.test_orders import _buyer, _idem, _shop
from tests.test_suppliers import (
    APP_KEY,
    _clear_breakers,
    _deliver,
    _open_job,
    _rid,
    _rows,
    _supplier,
)

API = "/api/v1/orders"


@dataclass
class CardUpstreams:
    primary: FuluSimulator
    backup: FuluSimulator
    primary_id: int
    backup_id: int
    admin: dict[str, str]
    servers: list[Any]
    products: dict[int, int] = field(default_factory=dict)  # SKU → product

    async def map(self, client: httpx.AsyncClient, sku_id: int) -> None:
        for sid, prio, product in ((self.primary_id, 10, "20000001"), (self.backup_id, 20, "9")):
            r = await client.post(
                f"/api/v1/skus/{sku_id}/supplier-mappings",
                json={
                    "supplier_id": sid,
                    "supplier_product_id": product,
                    "priority": prio,
                    "cost": "4.00",
                },
                headers=self.admin,
            )
            assert r.status_code == 201, r.text


@pytest.fixture
async def up(client: httpx.AsyncClient, app_db: str) -> AsyncIterator[CardUpstreams]:
    env = {
        "KAMENG_OUTBOUND_ALLOW_LOOPBACK": "true",
        "KAMENG_RECHARGE_SUPPLIER_URL": "",
        "KAMENG_SUPPLIER_BREAKER_MIN_CALLS": "3",
        "KAMENG_SUPPLIER_BREAKER_COOLDOWN_S": "1",
    }
    with settings_env(**env):
        await _clear_breakers()
        sourcing.forget()
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
        u = CardUpstreams(primary, backup, pid, bid, admin, servers)
        try:
            yield u
        finally:
            for server, task in u.servers:
                server.should_exit = True
                await task
            await _clear_breakers()
            sourcing.forget()


async def _sku(
    client: httpx.AsyncClient, up: CardUpstreams, keys: int = 0
) -> tuple[int, list[str]]:
    """A card-key SKU (price 6.00) with ``keys`` in stock, mapped to both suppliers."""
    product_id, sku_id, secrets = await _shop(client, keys, price="6.00")
    up.products[sku_id] = product_id
    await up.map(client, sku_id)
    return sku_id, secrets


async def _shop_sku(client: httpx.AsyncClient, up: CardUpstreams, sku_id: int) -> Any:
    r = await client.get(f"/api/v1/shop/products/{up.products[sku_id]}")
    assert r.status_code == 200, r.text
    [sku] = [s for s in r.json()["skus"] if s["id"] == sku_id]
    return sku


async def _buy(
    client: httpx.AsyncClient, session: AsyncSession, sku_id: int, qty: int = 2
) -> tuple[dict[str, Any], dict[str, str], Any]:
    account = await _buyer(session, "100")
    h = await login(client, account)
    r = await client.post(API, json={"sku_id": sku_id, "quantity": qty}, headers={**h, **_idem()})
    assert r.status_code == 201, r.text
    return r.json(), h, account


def _cards(sim: FuluSimulator, rid: str) -> list[tuple[str, str]]:
    return [
        (decrypt_card(c["card_number"], sim.secret), decrypt_card(c["card_pwd"], sim.secret))
        for c in sim.orders[rid].cards
    ]


async def _keys(session: AsyncSession, order_id: int) -> list[CardKey]:
    session.expire_all()
    q = (
        select(CardKey)
        .join(OrderKey, OrderKey.key_id == CardKey.id)
        .where(OrderKey.order_id == order_id)
        .order_by(OrderKey.seq)
    )
    return list((await session.execute(q)).scalars())


async def test_an_empty_sourced_sku_is_bought_upstream_once(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    # the shop says "on demand", not 0
    sku = await _shop_sku(client, up, sku_id)
    assert (sku["available"], sku["in_stock"]) == (None, True)

    order, h, account = await _buy(client, session, sku_id)
    assert order["status"] == "delivering"
    assert order["keys"] == []
    assert await wallet.balance(session, account.user.id) == Decimal("88.0000")
    job_id = (await _open_job(session, order["id"])).id
    # the worker may run the job several times at once: one run orders and delivers
    results = await asyncio.gather(*(_run(job_id) for _ in range(3)))
    assert results.count("done") >= 1
    rid = _rid(order, up.primary_id)
    assert up.primary.calls["fulu.order.card.add"] == 1
    assert up.primary.topups == {rid: 1}
    assert up.backup.calls == {}
    o = await _order(session, order["order_no"])
    assert (o.status, o.delivered_qty) == ("delivered", 2)
    assert o.upstream_started_at is not None
    assert o.supplier_ref == up.primary.orders[rid].order_id
    [row] = await _rows(session, order["id"])
    assert (row.state, row.supplier_product_id) == ("success", "20000001")

    # the buyer sees the supplier's cards, decrypted
    bought = _cards(up.primary, rid)
    assert len(bought) == 2
    got = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
    assert [(k["card_no"], k["secret"]) for k in got["keys"]] == bought

    # stored like imported keys: encrypted, hashed, sold to the order, one upstream batch
    keys = await _keys(session, order["id"])
    assert [(k.state, k.order_id, k.sku_id, k.sold_count) for k in keys] == [
        ("sold", order["id"], sku_id, 1)
    ] * 2
    for k, (_, secret) in zip(keys, bought, strict=True):
        assert secret.encode() not in k.secret_ct
        assert inventory.decrypt_secret(k) == secret
        assert k.hint == "****" + secret[-4:]
        assert k.cost == Decimal("5.5000")  # what the supplier charged for each
    [batch_id] = {k.batch_id for k in keys}
    batch = await session.get(ImportBatch, batch_id)
    assert batch is not None
    assert (batch.note, batch.status, batch.imported_count) == ("upstream:福禄主", "imported", 2)
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (0, 2)
    # the buyer's mail job, once
    assert [j.payload for j in await _jobs(session, NOTIFY_TASK)] == [{"order_id": order["id"]}]

    # the job once more (a re-drive, a duplicate delivery): nothing is ordered or stored
    async with unit_of_work() as s:
        assert await routing.deliver(s, order["id"]) == "nothing to do"
    assert len(await _keys(session, order["id"])) == 2
    assert up.primary.calls["fulu.order.card.add"] == 1


async def test_stock_on_hand_is_sold_first_without_the_supplier(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, secrets = await _sku(client, up, keys=3)
    order, _, _ = await _buy(client, session, sku_id)
    assert order["status"] == "delivered"
    assert {k["secret"] for k in order["keys"]} <= set(secrets)
    assert up.primary.calls == {}
    assert up.backup.calls == {}
    assert (await _shop_sku(client, up, sku_id))["in_stock"] is True


async def test_an_unmapped_empty_sku_is_still_sold_out(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    _, sku_id, _ = await _shop(client, 0, price="6.00")
    account = await _buyer(session, "100")
    h = await login(client, account)
    r = await client.post(API, json={"sku_id": sku_id, "quantity": 1}, headers={**h, **_idem()})
    assert r.status_code == 409
    assert r.json()["code"] == "sold_out"
    assert await wallet.balance(session, account.user.id) == Decimal("100.0000")


async def test_a_failed_primary_fails_over_to_the_backup(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    up.primary.mode = "failed"
    order, h, _ = await _buy(client, session, sku_id)
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "delivered"
    assert [(r.supplier_id, r.state) for r in await _rows(session, order["id"])] == [
        (up.primary_id, "failed"),
        (up.backup_id, "success"),
    ]
    bought = _cards(up.backup, _rid(order, up.backup_id))
    got = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
    assert [(k["card_no"], k["secret"]) for k in got["keys"]] == bought
    assert {k.batch_id for k in await _keys(session, order["id"])}


async def test_all_suppliers_failing_refunds_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    up.primary.mode = up.backup.mode = "failed"
    order, _, account = await _buy(client, session, sku_id)
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert o.status == "refunded"
    assert o.refunded_total == Decimal("12.0000")
    assert await wallet.balance(session, account.user.id) == Decimal("100.0000")
    assert await _keys(session, order["id"]) == []


async def test_a_callback_and_a_poll_racing_store_the_cards_once(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    up.primary.mode = "processing"
    order, h, _ = await _buy(client, session, sku_id)
    assert await _deliver(session, order["id"]) == "done"
    assert (await _order(session, order["order_no"])).status == "delivering"
    poll_id = (await _open_job(session, order["id"])).id
    rid = _rid(order, up.primary_id)
    up.primary.finish(rid)
    # the notice carries no cards: it hands the order to a job that asks for them
    r = await client.post(
        f"/api/v1/suppliers/{up.primary_id}/callback", content=up.primary.notice(rid)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"result": "processing"}
    jobs = [
        j
        for j in await _jobs(session, "fulfilment:deliver")
        if j.payload["order_id"] == order["id"] and j.done_at is None
    ]
    assert len(jobs) == 2
    assert poll_id in {j.id for j in jobs}
    job_ids = [j.id for j in jobs]
    await asyncio.gather(*(_run(i) for i in job_ids), _run(poll_id))
    o = await _order(session, order["order_no"])
    assert (o.status, o.delivered_qty) == ("delivered", 2)
    keys = await _keys(session, order["id"])
    assert len(keys) == 2
    q = select(CardKey).where(CardKey.order_id == order["id"])
    assert len(list((await session.execute(q)).scalars())) == 2  # stored once
    assert up.primary.topups == {rid: 1}
    assert up.primary.calls["fulu.order.card.add"] == 1
    got = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
    assert [(k["card_no"], k["secret"]) for k in got["keys"]] == _cards(up.primary, rid)
    notices = [
        j for j in await _jobs(session, NOTIFY_TASK) if j.payload == {"order_id": order["id"]}
    ]
    assert len(notices) == 1


async def test_fewer_cards_than_bought_deliver_part_and_refund_the_rest(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    up.primary.card_shortfall = 1
    order, h, account = await _buy(client, session, sku_id, qty=3)
    assert await wallet.balance(session, account.user.id) == Decimal("82.0000")
    assert await _deliver(session, order["id"]) == "done"
    o = await _order(session, order["order_no"])
    assert (o.status, o.delivered_qty, o.refunded_total) == (
        "partially_delivered",
        2,
        Decimal("6.0000"),
    )
    assert await wallet.balance(session, account.user.id) == Decimal("88.0000")
    got = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
    assert len(got["keys"]) == 2
    assert up.backup.calls == {}  # the part delivered is not ordered again elsewhere


async def test_a_kameng_upstream_sells_its_card_keys_to_an_empty_sku(
    client: httpx.AsyncClient, session: AsyncSession, app_db: str
) -> None:
    """The kameng adapter orders the upstream card-key SKU; the keys its order carries are
    stored and delivered (the upstream here: ``tests/test_suppliers_kameng.py``'s)."""
    from tests.test_suppliers_kameng import APP_ID, SECRET, WHSEC, Upstream

    class CardUpstream(Upstream):
        async def create(self, request: Request) -> Response:
            answer = await super().create(request)
            data = json.loads(await request.body())
            o = self.orders.get(data["out_trade_no"])
            if answer.status_code != 201 or o is None:
                return answer
            if not o["keys"]:
                o["keys"] = [
                    {"card_no": f"NO-{i}", "secret": f"KM-{o['order_no']}-{i}-secret"}
                    for i in range(int(data["quantity"]))
                ]
            return JSONResponse(o, status_code=201)

    up = CardUpstream()
    port = free_port()
    server, task = await serve_app(up.app, port)
    try:
        with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_RECHARGE_SUPPLIER_URL=""):
            sourcing.forget()
            admin = await login(client, await make_user(roles=("super_admin",), mfa=True))
            r = await client.post(
                "/api/v1/suppliers",
                json={
                    "name": "上游卡盟",
                    "protocol": "kameng",
                    "base_url": f"http://127.0.0.1:{port}",
                    "credentials": {"app_id": APP_ID, "secret": SECRET, "webhook_secret": WHSEC},
                },
                headers=admin,
            )
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            _, sku_id, _ = await _shop(client, 0, price="6.00")
            r = await client.post(
                f"/api/v1/skus/{sku_id}/supplier-mappings",
                json={"supplier_id": sid, "supplier_product_id": "42"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
            order, h, _ = await _buy(client, session, sku_id)
            assert order["status"] == "delivering"
            assert await _deliver(session, order["id"]) == "done"
            rid = _rid(order, sid)
            assert up.created == {rid: 1}
            o = await _order(session, order["order_no"])
            assert (o.status, o.supplier_ref) == ("delivered", up.orders[rid]["order_no"])
            got = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
            assert [(k["card_no"], k["secret"]) for k in got["keys"]] == [
                (k["card_no"], k["secret"]) for k in up.orders[rid]["keys"]
            ]
            keys = await _keys(session, order["id"])
            assert [inventory.decrypt_secret(k) for k in keys] == [
                k["secret"] for k in up.orders[rid]["keys"]
            ]
            assert all(b"KM-" not in k.secret_ct for k in keys)
    finally:
        server.should_exit = True
        await task
        sourcing.forget()


async def test_a_gateway_paid_order_of_an_empty_sourced_sku_goes_upstream(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    """Paid at the gateway while the SKU has no keys: bought upstream, not left waiting."""
    sku_id, _ = await _sku(client, up)
    account = await make_user(kind=UserKind.customer)
    h = await login(client, account)
    with settings_env(
        KAMENG_EPAY_GATEWAY_URL="http://127.0.0.1:9", KAMENG_EPAY_PID="1", KAMENG_EPAY_KEY="k"
    ):
        r = await client.post(
            API,
            json={"sku_id": sku_id, "quantity": 1, "pay_method": "epay"},
            headers={**h, **_idem()},
        )
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "pending_payment"
    payment = (
        await session.execute(select(Payment).where(Payment.order_id == placed["id"]))
    ).scalar_one()
    o = await orders.paid_by_gateway(session, placed["id"], payment.id)
    assert (o.status, o.awaiting_stock) == ("delivering", False)
    await session.commit()
    assert await _deliver(session, placed["id"]) == "done"
    o = await _order(session, placed["order_no"])
    assert (o.status, o.delivered_qty) == ("delivered", 1)
    assert up.primary.calls["fulu.order.card.add"] == 1
    got = (await client.get(f"{API}/{placed['order_no']}", headers=h)).json()
    assert [(k["card_no"], k["secret"]) for k in got["keys"]] == _cards(
        up.primary, _rid(placed, up.primary_id)
    )


async def test_a_sourced_sku_is_never_left_flagged_sold_out(
    client: httpx.AsyncClient, session: AsyncSession, up: CardUpstreams
) -> None:
    sku_id, _ = await _sku(client, up)
    order, _, _ = await _buy(client, session, sku_id, qty=1)
    assert order["status"] == "delivering"
    assert not await get_queue().exists(inventory.sold_out_key(sku_id))  # the buy raised none
    # a flag raised before the mapping was seen (another process's stale cache) is cleared
    # by the next fold run's recheck
    await inventory.mark_sold_out(sku_id)
    assert await inventory.recheck_sold_out(session) == [sku_id]
    assert not await get_queue().exists(inventory.sold_out_key(sku_id))
