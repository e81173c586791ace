"""Orders paid by balance: priced on the server, delivered from stock exactly once in the
paying transaction, idempotent by ``Idempotency-Key``, never oversold under a real race."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core.actor import UserKind
from kameng_api.inventory import service as inventory
from kameng_api.inventory.models import CardKey, Stock, StockDelta
from kameng_api.orders.models import Order, OrderEvent, OrderKey
from kameng_api.wallet import service as wallet
from tests.support.factories import login, make_user

API = "/api/v1/orders"


async def _shop(
    client: httpx.AsyncClient, keys: int, *, price: str = "10.00", **product: Any
) -> tuple[int, int, list[str]]:
    """A listed card-key product with one SKU and ``keys`` keys in stock."""
    admin = await login(client, await make_user(roles=("operator",)))
    cat = (
        await client.post(
            "/api/v1/catalog/categories", json={"name": f"c{uuid.uuid4().hex[:6]}"}, headers=admin
        )
    ).json()["id"]
    body = {
        "category_id": cat,
        "name": f"Steam {uuid.uuid4().hex[:4]}",
        "delivery_type": "card_key",
        "status": "listed",
        "skus": [{"name": "10元", "base_price": price, "cost_price": "1.00"}],
        **product,
    }
    r = await client.post("/api/v1/catalog/products", json=body, headers=admin)
    assert r.status_code == 201, r.text
    p = r.json()["product"]
    sku_id = p["skus"][0]["id"]
    secrets = [f"SECRET-{uuid.uuid4().hex[:12]}" for _ in range(keys)]
    if keys:
        r = await client.post(
            "/api/v1/inventory/imports",
            data={"sku_id": str(sku_id), "text": "\n".join(secrets), "format": "secret"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=admin)
        assert r.json()["imported_count"] == keys, r.text
    return p["id"], sku_id, secrets


async def _buyer(session: AsyncSession, money: str = "100") -> Any:
    account = await make_user(kind=UserKind.customer)
    if Decimal(money):
        await wallet.recharge(
            session, account.user.id, Decimal(money), payment_id=uuid.uuid4().int % 10**12
        )
        await session.commit()
    return account


def _idem() -> dict[str, str]:
    return {"idempotency-key": uuid.uuid4().hex}


async def test_buying_with_balance_charges_once_and_delivers_the_keys(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id, sku_id, secrets = await _shop(client, 3, price="12.50")
    account = await _buyer(session)
    h = await login(client, account)
    r = await client.post(API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **_idem()})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "delivered"
    assert order["total"] == "25.0000"
    assert len(order["order_no"]) == 22
    assert order["order_no"].isdigit()
    assert {k["secret"] for k in order["keys"]} <= set(secrets)
    assert len({k["secret"] for k in order["keys"]}) == 2
    assert await wallet.balance(session, account.user.id) == Decimal("75.0000")

    # the buyer sees it in their list and, opened, with the keys
    listed = (await client.get(API, headers=h)).json()["items"]
    assert [(o["order_no"], o["keys"]) for o in listed] == [(order["order_no"], [])]
    again = (await client.get(f"{API}/{order['order_no']}", headers=h)).json()
    assert again["keys"] == order["keys"]
    # stock moved with it
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (1, 2)
    # the timeline tells the story
    events = (
        await session.execute(
            select(OrderEvent.from_status, OrderEvent.to_status)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.order_no == order["order_no"])
            .order_by(OrderEvent.id)
        )
    ).all()
    assert [tuple(e) for e in events] == [
        (None, "pending_payment"),
        ("pending_payment", "paid"),
        ("paid", "delivered"),
    ]
    # someone else cannot open it; staff see it in the console with the timeline
    other = await login(client, await make_user(kind=UserKind.customer))
    assert (await client.get(f"{API}/{order['order_no']}", headers=other)).status_code == 404
    cs = await login(client, await make_user(roles=("customer_service",)))
    detail = (await client.get(f"/api/v1/admin/orders/{order['order_no']}", headers=cs)).json()
    assert [e["to_status"] for e in detail["timeline"]] == ["pending_payment", "paid", "delivered"]
    assert detail["keys"] == []  # staff do not see secrets here
    found = (
        await client.get(
            "/api/v1/admin/orders",
            params={"product_id": product_id, "status": "delivered"},
            headers=cs,
        )
    ).json()["items"]
    assert [o["order_no"] for o in found] == [order["order_no"]]
    assert found[0]["buyer_login"] == account.user.email
    assert detail["buyer_login"] == account.user.email
    # the buyer's statement names the order by its number
    lines = (await client.get("/api/v1/wallet/me/statement", headers=h)).json()["items"]
    assert (lines[0]["ref_type"], lines[0]["ref_id"]) == ("order", order["order_no"])


async def test_refusals_leave_no_order_no_charge_and_no_key_gone(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(
        client,
        2,
        price="30.00",
        max_qty=5,
        per_user_limit=2,
        buyer_fields=[{"key": "game_id", "label": "游戏ID", "type": "number"}],
    )
    account = await _buyer(session, "50")
    h = await login(client, account)

    async def buy(**body: Any) -> httpx.Response:
        return await client.post(
            API,
            json={"sku_id": sku_id, "buyer_input": {"game_id": "12345"}, **body},
            headers={**h, **_idem()},
        )

    r = await buy(quantity=6)
    assert (r.status_code, r.json()["code"]) == (422, "quantity_out_of_range")
    r = await buy(quantity=3)
    assert (r.status_code, r.json()["code"]) == (422, "per_user_limit")
    r = await buy(quantity=2)  # 60 > 50
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_balance")
    r = await client.post(
        API,
        json={"sku_id": sku_id, "buyer_input": {"game_id": "abc", "x": "1"}},
        headers={**h, **_idem()},
    )
    assert (r.status_code, r.json()["code"]) == (422, "bad_buyer_input")
    assert {e["loc"][-1] for e in r.json()["errors"]} == {"game_id", "x"}
    r = await client.post(API, json={"sku_id": sku_id}, headers=h)  # no Idempotency-Key
    assert r.status_code == 422

    assert (await session.execute(select(func.count()).select_from(Order))).scalar() == 0
    assert await wallet.balance(session, account.user.id) == Decimal("50.0000")
    assert (
        await session.execute(
            select(func.count()).select_from(CardKey).where(CardKey.state == "sold")
        )
    ).scalar() == 0

    # one key left for a second buyer after the first buys one: then sold out, nothing charged
    r = await buy(quantity=1)
    assert r.status_code == 201, r.text
    other = await _buyer(session)
    oh = await login(client, other)
    r = await client.post(
        API,
        json={"sku_id": sku_id, "quantity": 2, "buyer_input": {"game_id": "1"}},
        headers={**oh, **_idem()},
    )
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    assert await wallet.balance(session, other.user.id) == Decimal("100.0000")
    # refusals are in the operation log, with who was refused and why
    refused = (
        (
            await session.execute(
                select(AuditLog).where(
                    AuditLog.action == "orders:create", AuditLog.actor_id == other.user.id
                )
            )
        )
        .scalars()
        .all()
    )
    assert [(a.result, a.detail) for a in refused] == [("rejected", "409 sold_out")]


async def test_idempotency_key_replays_refuses_another_body_and_a_running_duplicate(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 5)
    account = await _buyer(session)
    h = await login(client, account)
    key = _idem()
    first = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert first.status_code == 201
    replay = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()  # keys included, read again from the order
    assert await wallet.balance(session, account.user.id) == Decimal("90.0000")
    other_body = await client.post(
        API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **key}
    )
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    # a refusal is an answer too: the same request gets the same refusal
    broke = await _buyer(session, "0")
    bh = await login(client, broke)
    k2 = _idem()
    a = await client.post(API, json={"sku_id": sku_id}, headers={**bh, **k2})
    b = await client.post(API, json={"sku_id": sku_id}, headers={**bh, **k2})
    assert (a.status_code, a.json()["code"]) == (409, "insufficient_balance")
    assert (b.status_code, b.json()["code"]) == (409, "insufficient_balance")

    # concurrent duplicates: one runs, the others get 409 or the same answer — one order only
    k3 = _idem()
    results = await asyncio.gather(
        *(client.post(API, json={"sku_id": sku_id}, headers={**h, **k3}) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert all(
        r.json()["code"] == "idempotency_in_progress" for r in results if r.status_code == 409
    )
    assert len({r.json()["order_no"] for r in results if r.status_code == 201}) == 1
    count = (
        await session.execute(
            select(func.count()).select_from(Order).where(Order.buyer_id == account.user.id)
        )
    ).scalar()
    assert count == 2
    assert await wallet.balance(session, account.user.id) == Decimal("80.0000")


async def test_flash_sale_race_sells_each_key_once_and_refuses_the_rest(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """40 buyers with money race for 15 keys over concurrent requests (each its own database
    connection): exactly 15 orders, 25 clear sold_out, no key in two orders, money exact."""
    _, sku_id, secrets = await _shop(client, 15)
    buyers = []
    for _ in range(40):
        account = await _buyer(session, "10")
        buyers.append((account, await login(client, account)))

    results = await asyncio.gather(
        *(client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()}) for _, h in buyers)
    )
    won = [r for r in results if r.status_code == 201]
    lost = [r for r in results if r.status_code != 201]
    assert len(won) == 15, [r.text for r in lost[:3]]
    assert {(r.status_code, r.json()["code"]) for r in lost} == {(409, "sold_out")}
    delivered = [k["secret"] for r in won for k in r.json()["keys"]]
    assert sorted(delivered) == sorted(secrets)  # every key once, none twice
    rows = (
        await session.execute(select(OrderKey.key_id, func.count()).group_by(OrderKey.key_id))
    ).all()
    assert len(rows) == 15
    assert all(n == 1 for _, n in rows)
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (0, 15)
    # the purchase slots fold into the SKU's counters and leave the same stock
    assert await inventory.fold_stock(session) == [sku_id]
    await session.commit()
    base = (await session.execute(select(Stock).where(Stock.sku_id == sku_id))).scalar_one()
    assert (base.available, base.sold) == (0, 15)
    assert (await session.execute(select(func.count()).select_from(StockDelta))).scalar() == 0
    balances = [await wallet.balance(session, a.user.id) for a, _ in buyers]
    assert sorted(balances) == [Decimal("0.0000")] * 15 + [Decimal("10.0000")] * 25
    tb = await wallet.trial_balance(session)
    assert tb.total == 0
    assert tb.by_kind["revenue"] == Decimal("150.0000")


async def test_the_sold_out_gate_answers_fast_but_never_hides_a_retry(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from kameng_api.core.metrics import SOLD_OUT_AT_GATE
    from kameng_api.core.redis import get_queue

    _, sku_id, _ = await _shop(client, 1)
    h = await login(client, await _buyer(session))
    first_key = _idem()
    first = await client.post(API, json={"sku_id": sku_id}, headers={**h, **first_key})
    assert first.status_code == 201
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.json()["code"] == "sold_out"  # the database said so: the flag goes up
    assert await get_queue().exists(inventory.sold_out_key(sku_id))

    gated = SOLD_OUT_AT_GATE._value.get()
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    assert SOLD_OUT_AT_GATE._value.get() == gated + 1  # answered at the gate
    # a retry of the purchase that went through still gets its answer, keys and all
    again = await client.post(API, json={"sku_id": sku_id}, headers={**h, **first_key})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["keys"] == first.json()["keys"]
    assert SOLD_OUT_AT_GATE._value.get() == gated + 1

    # restocking lowers the flag at once
    admin = await login(client, await make_user(roles=("operator",)))
    r = await client.post(
        "/api/v1/inventory/imports",
        data={"sku_id": str(sku_id), "text": "RESTOCK-0001", "format": "secret"},
        headers=admin,
    )
    await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=admin)
    assert not await get_queue().exists(inventory.sold_out_key(sku_id))
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.status_code == 201, r.text
    assert r.json()["keys"][0]["secret"] == "RESTOCK-0001"

    # a flag raised while keys exist (an import that committed between a claim finding none
    # and its flag) is lowered by the next fold run, and only then
    await inventory.mark_sold_out(sku_id)
    assert await inventory.recheck_sold_out(session) == []  # none left: the flag stays
    assert await get_queue().exists(inventory.sold_out_key(sku_id))
    r = await client.post(
        "/api/v1/inventory/imports",
        data={"sku_id": str(sku_id), "text": "RESTOCK-0002", "format": "secret"},
        headers=admin,
    )
    await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=admin)
    await inventory.mark_sold_out(sku_id)
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.json()["code"] == "sold_out"  # wrongly, for a moment
    assert await inventory.recheck_sold_out(session) == [sku_id]
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.status_code == 201, r.text

    # the gate never answers a bad token: the route does
    await inventory.mark_sold_out(sku_id)
    r = await client.post(
        API, json={"sku_id": sku_id}, headers={"Authorization": "Bearer x.y.z", **_idem()}
    )
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")


async def test_a_refusal_at_the_gate_is_the_keys_answer_even_once_stock_is_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A reseller's retry logic relies on it: a key refused ``sold_out`` stays refused for
    the same request, and another request under that key is ``idempotency_key_reused`` —
    at the gate, through the route, and after a restock alike."""
    _, sku_id, _ = await _shop(client, 1)
    h = await login(client, await _buyer(session))
    await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})  # the last key
    await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})  # flag goes up
    key = _idem()
    refused = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert (refused.status_code, refused.json()["code"]) == (409, "sold_out")
    other = await client.post(API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **key})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")

    admin = await login(client, await make_user(roles=("operator",)))
    r = await client.post(
        "/api/v1/inventory/imports",
        data={"sku_id": str(sku_id), "text": "BACK-0001\nBACK-0002", "format": "secret"},
        headers=admin,
    )
    await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=admin)
    again = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert (again.status_code, again.json()["code"]) == (409, "sold_out")  # it did not buy
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **key})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    bought = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert bought.status_code == 201  # a new key buys


async def test_idempotency_answers_are_kept_a_day_then_purged(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from sqlalchemy import text

    from kameng_api.orders import idempotency
    from kameng_api.orders.models import IdempotencyKey

    _, sku_id, _ = await _shop(client, 2)
    h = await login(client, await _buyer(session))
    old, new = _idem(), _idem()
    for key in (old, new):
        r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
        assert r.status_code == 201
    await session.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours 1 minute'"
            " WHERE key = :k"
        ),
        {"k": old["idempotency-key"]},
    )
    await session.commit()
    assert await idempotency.purge(session) == 1
    await session.commit()
    kept = (await session.execute(select(IdempotencyKey.key))).scalars().all()
    assert kept == [new["idempotency-key"]]
    again = await client.post(API, json={"sku_id": sku_id}, headers={**h, **new})
    assert again.headers["idempotent-replayed"] == "true"
