"""The open-API lane (resellers/lane.py): a signed card-key order answered in front of
routing by the purchase lane's batch — the same answer, rows, operation-log entry, notice
job and callback as the route; what the batch statement re-checks (the key revoked or its
allowlist changed, the reseller's tier) within the lane's caches; every refusal with the
route's code; one order per out_trade_no under races of the same and of other bodies."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core.metrics import PURCHASE_LANE
from kameng_api.inventory.models import CardKey
from kameng_api.orders.idempotency import request_hash
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.orders.service import NOTIFY_TASK
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.resellers import signing
from kameng_api.resellers.callback_models import ResellerCallback
from kameng_api.resellers.client import OpenApiError
from kameng_api.resellers.models import OpenOrder, ResellerKey
from kameng_api.resellers.schemas import OpenOrderIn
from kameng_api.wallet import service as wallet
from tests.test_orders import _shop
from tests.test_reseller_open_api import KEYS, _api, _key, _orders, _reseller, _signed

PATH = "/open/v1/orders"


def _lane(outcome: str) -> float:
    return float(PURCHASE_LANE.labels(outcome)._value.get())


async def _notify_all(session: AsyncSession) -> None:
    q = select(OutboxMessage.id).where(
        OutboxMessage.task == NOTIFY_TASK,
        OutboxMessage.done_at.is_(None),
        OutboxMessage.failed_at.is_(None),
    )
    for job_id in (await session.execute(q)).scalars().all():
        assert await run_outbox_job(registry[NOTIFY_TASK], job_id) == "done"


async def test_an_open_order_goes_through_the_batch_with_the_routes_rows_and_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    _, sku_id, secrets = await _shop(client, 5, price="12.50")
    key = await _key(client, h)
    bought = _lane("bought")
    async with _api(client, key) as api:
        order = await api.create_order("L-1", sku_id, 2)
        assert _lane("bought") == bought + 1  # the lane answered, not the route
        assert order["status"] == "delivered"
        assert order["replayed"] is False
        assert (order["unit_price"], order["total"]) == ("12.5000", "25.0000")
        assert order["out_trade_no"] == "L-1"
        assert order["delivered_at"] is not None
        assert order["message"] is None
        assert len(order["keys"]) == 2
        assert {k["secret"] for k in order["keys"]} <= set(secrets)
        # the same answer as the route's reading of the order, keys and all
        got = await api.get_order("L-1")
        assert got is not None
        assert {**got, "created_at": None, "delivered_at": None} == {
            **{k: v for k, v in order.items() if k != "replayed"},
            "created_at": None,
            "delivered_at": None,
        }
        # a replay (the route answers it, from the row the batch wrote) and a reuse
        again = await api.create_order("L-1", sku_id, 2)
        assert again["replayed"] is True
        assert (again["order_no"], again["keys"]) == (order["order_no"], order["keys"])
        with pytest.raises(OpenApiError) as e:
            await api.create_order("L-1", sku_id, 1)
        assert (e.value.status, e.value.code) == (409, "out_trade_no_reused")
    assert await wallet.balance(session, account.user.id) == Decimal("75")
    assert await _orders(session, account.user.id) == 1
    row = (
        await session.execute(select(Order).where(Order.order_no == order["order_no"]))
    ).scalar_one()
    link = await session.get(OpenOrder, row.id)
    assert link is not None
    digest = request_hash(OpenOrderIn(out_trade_no="L-1", sku_id=sku_id, quantity=2).digest_body())
    assert (link.user_id, link.out_trade_no, link.key_id, link.request_hash) == (
        account.user.id,
        "L-1",
        key["id"],
        digest,
    )
    assert link.callback_url is None
    events = (
        await session.execute(select(OrderEvent.to_status).where(OrderEvent.order_id == row.id))
    ).scalars()
    assert sorted(events) == ["delivered", "paid", "pending_payment"]
    [entry] = (
        await session.execute(
            select(AuditLog).where(
                AuditLog.action == "orders.create", AuditLog.target_id == order["order_no"]
            )
        )
    ).scalars()
    assert (entry.actor_id, entry.actor_kind) == (account.user.id, "reseller")
    used = await session.scalar(select(ResellerKey.last_used_at).where(ResellerKey.id == key["id"]))
    assert used is not None
    # the batch's notice job finds the open-API order: its order.delivered callback, once
    await _notify_all(session)
    cbs = (
        (await session.execute(select(ResellerCallback).where(ResellerCallback.order_id == row.id)))
        .scalars()
        .all()
    )
    assert [c.event for c in cbs] == ["order.delivered"]


async def test_what_the_batch_rechecks_within_the_lanes_caches(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The key and the reseller are kept per process; the batch statement sees a revoke, a
    new allowlist and a new tier at once, and the route answers as it would."""
    account, h = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 10, price="12.50")
    key = await _key(client, h)
    async with _api(client, key) as api:
        await api.create_order("C-1", sku_id, 1)  # the key and the buyer are now cached
        # a new tier: the lane priced at the old one; the batch refuses, the route prices
        await session.execute(
            text("UPDATE users SET reseller_tier = 1 WHERE id = :u"), {"u": account.user.id}
        )
        await session.execute(
            text(
                "INSERT INTO catalog_sku_audience_prices (sku_id, audience, level, price) "
                "VALUES (:s, 'reseller', 1, 9.5)"
            ),
            {"s": sku_id},
        )
        await session.commit()
        handed = _lane("handed_over")
        second = await api.create_order("C-2", sku_id, 1)
        assert second["unit_price"] == "9.5000"
        assert _lane("handed_over") >= handed + 1
        bought = _lane("bought")
        third = await api.create_order("C-3", sku_id, 1)  # the lane, at the new price
        assert third["unit_price"] == "9.5000"
        assert _lane("bought") == bought + 1
        # a new allowlist: refused by the batch, the route answers ip_refused
        r = await client.patch(
            f"{KEYS}/{key['id']}", json={"ip_allowlist": ["10.9.9.9"]}, headers=h
        )
        assert r.status_code == 200, r.text
        with pytest.raises(OpenApiError) as e:
            await api.create_order("C-4", sku_id, 1)
        assert (e.value.status, e.value.code) == (403, "ip_refused")
        r = await client.patch(f"{KEYS}/{key['id']}", json={"ip_allowlist": []}, headers=h)
        assert r.status_code == 200, r.text
        assert (await api.create_order("C-4", sku_id, 1))["status"] == "delivered"
        # the key revoked: unknown_key at once, nothing ordered
        r = await client.post(f"{KEYS}/{key['id']}/revoke", headers=h)
        assert r.status_code == 200, r.text
        with pytest.raises(OpenApiError) as e:
            await api.create_order("C-5", sku_id, 1)
        assert (e.value.status, e.value.code) == (401, "unknown_key")
    assert await _orders(session, account.user.id) == 4
    assert await wallet.balance(session, account.user.id) == Decimal("100") - Decimal(
        "12.50"
    ) - 3 * Decimal("9.5")


async def test_refusals_keep_the_routes_codes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session, "20")
    _, sku_id, _ = await _shop(client, 3, price="8.00")
    key = await _key(client, h, rate_limit_per_min=6)

    def body(n: str, qty: int = 1) -> bytes:
        return json.dumps({"out_trade_no": n, "sku_id": sku_id, "quantity": qty}).encode()

    async def post(content: bytes, nonce: str | None = None) -> httpx.Response:
        return await client.post(
            PATH, content=content, headers=_signed(key, "POST", PATH, content, nonce=nonce)
        )

    nonce = signing.new_nonce()
    r = await post(body("R-1"), nonce)  # 1 of 6
    assert r.status_code == 201, r.text
    r = await post(body("R-2"), nonce)  # 2: the nonce again
    assert (r.status_code, r.json()["code"]) == (401, "nonce_reused")
    r = await post(body("R-3", 2))  # 3: 2 keys left, but 8 + 16 > 20
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_balance")
    r = await post(body("R-4", 999))  # 4: the route judges the quantity
    assert (r.status_code, r.json()["code"]) == (422, "quantity_out_of_range")
    r = await post(body("R-5"))  # 5: the last key
    assert r.status_code == 201, r.text
    r = await post(body("R-6", 2))  # 6: one key left
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    r = await post(body("R-7"))  # 7 of 6
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert await _orders(session, account.user.id) == 2
    assert await wallet.balance(session, account.user.id) == Decimal("4")
    rejected = await session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.actor_id == account.user.id, AuditLog.result == "rejected")
    )
    assert rejected is not None
    assert rejected >= 1


async def test_one_order_per_out_trade_no_when_bodies_race(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The same number with two bodies, ten at once, and twenty numbers twice each at once:
    one order per number, the other body refused, no key sold twice."""
    account, h = await _reseller(client, session, "1000")
    _, sku_id, _ = await _shop(client, 100, price="1.00")
    key = await _key(client, h)
    async with _api(client, key) as api:
        answers: list[Any] = await asyncio.gather(
            *(api.create_order("X-1", sku_id, 1 + i % 2) for i in range(10)),
            return_exceptions=True,
        )
        orders = {a["order_no"] for a in answers if isinstance(a, dict)}
        assert len(orders) == 1
        reused = [a for a in answers if isinstance(a, OpenApiError)]
        assert {(e.status, e.code) for e in reused} <= {(409, "out_trade_no_reused")}
        assert len(reused) == 5
        assert sum(1 for a in answers if isinstance(a, dict) and not a["replayed"]) == 1
        many: list[Any] = await asyncio.gather(
            *(api.create_order(f"Y-{i % 20}", sku_id, 1) for i in range(40)),
            return_exceptions=True,
        )
    assert not [a for a in many if isinstance(a, BaseException)]
    by_number: dict[str, set[str]] = {}
    for a in many:
        by_number.setdefault(a["out_trade_no"], set()).add(a["order_no"])
    assert all(len(v) == 1 for v in by_number.values())
    assert await _orders(session, account.user.id) == 21
    n = await session.scalar(
        select(func.count()).select_from(OpenOrder).where(OpenOrder.user_id == account.user.id)
    )
    assert n == 21
    sold = await session.scalar(
        select(func.count())
        .select_from(CardKey)
        .where(CardKey.sku_id == sku_id, CardKey.state == "sold")
    )
    first_qty = next(a for a in answers if isinstance(a, dict))["quantity"]
    assert sold == 20 + first_qty
    assert await wallet.balance(session, account.user.id) == Decimal(1000 - 20 - first_qty)
