"""The reseller open API ``/open/v1``: every signature check has its own code and orders
nothing; keys (create, rotate with grace, revoke, allowlist, rate limit) and their secrets
at rest; idempotent orders by out_trade_no under a real race; cancel before processing;
one reseller cannot see or touch another's orders or keys. Calls go through the real
``OpenApiClient`` over the app (ASGI)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.core.actor import UserKind
from kameng_api.orders.models import Order
from kameng_api.resellers import signing
from kameng_api.resellers.client import OpenApiClient, OpenApiError
from kameng_api.resellers.models import OpenOrder, ResellerKey
from kameng_api.wallet import service as wallet
from tests.support.factories import Account, login, make_user
from tests.test_orders import _shop

KEYS = "/api/v1/account/reseller/keys"


async def _reseller(
    client: httpx.AsyncClient, session: AsyncSession, money: str = "100"
) -> tuple[Account, dict[str, str]]:
    account = await make_user(kind=UserKind.reseller)
    if Decimal(money):
        await wallet.recharge(
            session, account.user.id, Decimal(money), payment_id=uuid.uuid4().int % 10**12
        )
        await session.commit()
    return account, await login(client, account)


async def _key(client: httpx.AsyncClient, h: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post(KEYS, json=body, headers=h)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _api(client: httpx.AsyncClient, key: dict[str, Any]) -> OpenApiClient:
    return OpenApiClient("http://test", key["app_id"], key["secret"], transport=client._transport)


async def _orders(session: AsyncSession, buyer_id: int) -> int:
    n = await session.scalar(
        select(func.count()).select_from(Order).where(Order.buyer_id == buyer_id)
    )
    return int(n or 0)


def _signed(
    key: dict[str, Any],
    method: str,
    path: str,
    body: bytes = b"",
    *,
    query: str = "",
    ts: int | None = None,
    nonce: str | None = None,
    secret: str | None = None,
) -> dict[str, str]:
    ts_s = str(int(time.time()) if ts is None else ts)
    nonce = nonce or signing.new_nonce()
    pairs = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
    text_ = signing.string_to_sign(method, path, pairs, ts_s, nonce, body)  # type: ignore[arg-type]
    return {
        "X-Kameng-App-Id": key["app_id"],
        "X-Kameng-Timestamp": ts_s,
        "X-Kameng-Nonce": nonce,
        "X-Kameng-Signature": signing.sign(secret or key["secret"], text_),
        "content-type": "application/json",
    }


# ---- keys -----------------------------------------------------------------------------------


async def test_a_key_is_shown_once_stored_encrypted_and_answers_ping(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    key = await _key(client, h, name="erp", ip_allowlist=["10.0.0.1", "127.0.0.0/8"])
    assert key["app_id"].startswith("ak_")
    assert key["secret"].startswith("sk_")
    assert key["ip_allowlist"] == ["10.0.0.1/32", "127.0.0.0/8"]
    listed = (await client.get(KEYS, headers=h)).json()
    assert [k["app_id"] for k in listed] == [key["app_id"]]
    assert "secret" not in listed[0]
    assert listed[0]["secret_hint"] == key["secret"][-4:]
    row = (
        await session.execute(select(ResellerKey).where(ResellerKey.app_id == key["app_id"]))
    ).scalar_one()
    assert key["secret"] not in row.secret_enc
    assert key["secret"] not in json.dumps([str(v) for v in row.__dict__.values()])
    async with _api(client, key) as api:
        pong = await api.ping()
    assert pong["app_id"] == key["app_id"]
    assert pong["reseller_id"] == account.user.id
    async with db.unit_of_work() as s:  # last_used_at noted
        used = await s.scalar(select(ResellerKey.last_used_at).where(ResellerKey.id == key["id"]))
    assert used is not None
    assert (
        await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "resellers.key_create")
        )
        == 1
    )


async def test_bad_cidr_is_422_and_key_count_is_capped(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, h = await _reseller(client, session, "0")
    r = await client.post(KEYS, json={"ip_allowlist": ["10.0.0.300/8"]}, headers=h)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    monkeypatch.setenv("KAMENG_RESELLER_MAX_KEYS", "2")
    from kameng_api.settings import get_settings

    get_settings.cache_clear()
    await _key(client, h)
    await _key(client, h)
    r = await client.post(KEYS, json={}, headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "too_many_keys"
    get_settings.cache_clear()


async def test_customers_and_staff_cannot_use_key_routes_and_b_cannot_touch_a(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, ha = await _reseller(client, session, "0")
    _, hb = await _reseller(client, session, "0")
    key = await _key(client, ha)
    customer = await login(client, await make_user(kind=UserKind.customer))
    operator = await login(client, await make_user(roles=("operator",)))
    for h in (customer, operator):
        r = await client.post(KEYS, json={}, headers=h)
        assert r.status_code == 403
        assert r.json()["code"] == "permission_denied"
    for path in (f"{KEYS}/{key['id']}/revoke", f"{KEYS}/{key['id']}/rotate"):
        r = await client.post(path, headers=hb)
        assert r.status_code == 404
        assert r.json()["code"] == "key_not_found"
    r = await client.patch(f"{KEYS}/{key['id']}", json={"name": "x"}, headers=hb)
    assert r.status_code == 404
    assert (await client.get(KEYS, headers=hb)).json() == []


async def test_staff_list_read_only_and_revoke(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session, "0")
    key = await _key(client, h)
    admin = await make_user(roles=("super_admin",), mfa=True)
    ha = await login(client, admin)
    r = await client.get(f"/api/v1/admin/resellers/{account.user.id}/keys", headers=ha)
    assert r.status_code == 200
    assert "secret" not in r.json()[0]
    r = await client.post(f"/api/v1/admin/reseller-keys/{key['id']}/revoke", headers=ha)
    assert r.status_code == 200
    assert r.json()["status"] == "revoked"
    async with _api(client, key) as api:
        with pytest.raises(OpenApiError) as e:
            await api.ping()
    assert (e.value.status, e.value.code) == (401, "unknown_key")


async def test_rotation_keeps_the_old_key_for_the_grace_then_refuses_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, h = await _reseller(client, session, "0")
    old = await _key(client, h, name="a")
    r = await client.post(f"{KEYS}/{old['id']}/rotate", headers=h)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["app_id"] != old["app_id"]
    assert new["secret"] != old["secret"]
    async with _api(client, old) as api_old, _api(client, new) as api_new:
        assert (await api_old.ping())["app_id"] == old["app_id"]  # in its grace
        assert (await api_new.ping())["app_id"] == new["app_id"]
        listed = {k["app_id"]: k["status"] for k in (await client.get(KEYS, headers=h)).json()}
        assert listed == {old["app_id"]: "rotated", new["app_id"]: "active"}
        # the grace ends
        await session.execute(
            text("UPDATE reseller_keys SET expires_at = now() - interval '1 second' WHERE id=:i"),
            {"i": old["id"]},
        )
        await session.commit()
        with pytest.raises(OpenApiError) as e:
            await api_old.ping()
        assert (e.value.status, e.value.code) == (401, "unknown_key")
        assert (await api_new.ping())["app_id"] == new["app_id"]
    r = await client.post(f"{KEYS}/{old['id']}/rotate", headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "key_not_active"


async def test_callback_settings(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _, h = await _reseller(client, session, "0")
    r = await client.get("/api/v1/account/reseller/callback", headers=h)
    assert r.json() == {"callback_url": None, "has_webhook_secret": True}
    r = await client.put(
        "/api/v1/account/reseller/callback",
        json={"callback_url": "http://169.254.169.254/latest"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "url_not_allowed"
    r = await client.post("/api/v1/account/reseller/callback/rotate-secret", headers=h)
    assert r.status_code == 200
    assert r.json()["webhook_secret"].startswith("whsec_")


# ---- the signature checks -------------------------------------------------------------------


async def test_every_signature_failure_has_its_code_and_orders_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 5)
    key = await _key(client, h)
    path = "/open/v1/orders"

    def body(n: str) -> bytes:
        return json.dumps({"out_trade_no": n, "sku_id": sku_id, "quantity": 1}).encode()

    async def post(headers: dict[str, str], content: bytes, url: str = path) -> httpx.Response:
        return await client.post(url, content=content, headers=headers)

    good = _signed(key, "POST", path, body("A1"))
    cases: list[tuple[str, dict[str, str], bytes, str, int]] = []
    for header in ("X-Kameng-App-Id", "X-Kameng-Timestamp", "X-Kameng-Nonce", "X-Kameng-Signature"):
        cases.append(
            (
                f"no {header}",
                {k: v for k, v in good.items() if k != header},
                body("A1"),
                "signature_missing",
                401,
            )
        )
    cases.append(
        ("short nonce", {**good, "X-Kameng-Nonce": "abc"}, body("A1"), "signature_missing", 401)
    )
    cases.append(
        (
            "signature not hex",
            {**good, "X-Kameng-Signature": "z" * 64},
            body("A1"),
            "signature_missing",
            401,
        )
    )
    cases.append(
        ("unknown key", {**good, "X-Kameng-App-Id": "ak_nope"}, body("A1"), "unknown_key", 401)
    )
    for skew in (-330, 330):  # a margin: the test itself may take a second or two
        cases.append(
            (
                f"stale {skew}",
                _signed(key, "POST", path, body("A1"), ts=int(time.time()) + skew),
                body("A1"),
                "stale_timestamp",
                401,
            )
        )
    cases.append(
        (
            "wrong secret",
            _signed(key, "POST", path, body("A1"), secret="sk_x"),
            body("A1"),
            "bad_signature",
            401,
        )
    )
    cases.append(("tampered body", good, body("A2"), "bad_signature", 401))
    for label, headers, content, code, status in cases:
        r = await post(headers, content)
        assert (r.status_code, r.json().get("code")) == (status, code), (label, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # tampered query and path
    h_q = _signed(key, "GET", "/open/v1/orders", query="limit=5")
    r = await client.get("/open/v1/orders?limit=6", headers=h_q)
    assert r.json()["code"] == "bad_signature"
    h_p = _signed(key, "GET", "/open/v1/orders/A1")
    r = await client.get("/open/v1/orders/A2", headers=h_p)
    assert r.json()["code"] == "bad_signature"
    # a forged request does not burn the nonce: the real one with it still goes through
    nonce = signing.new_nonce()
    forged = _signed(key, "POST", path, body("A1"), nonce=nonce, secret="sk_forged")
    assert (await post(forged, body("A1"))).json()["code"] == "bad_signature"
    real = _signed(key, "POST", path, body("A1"), nonce=nonce)
    r = await post(real, body("A1"))
    assert r.status_code == 201, r.text
    # the same nonce again: refused, nothing more ordered
    again = _signed(key, "POST", path, body("A9"), nonce=nonce)
    r = await post(again, body("A9"))
    assert (r.status_code, r.json()["code"]) == (401, "nonce_reused")
    assert await _orders(session, account.user.id) == 1
    assert await wallet.balance(session, account.user.id) == Decimal("90")


async def test_ip_allowlist_and_rate_limit(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, h = await _reseller(client, session, "0")
    key = await _key(client, h, ip_allowlist=["203.0.113.0/24"], rate_limit_per_min=3)
    async with _api(client, key) as api:
        with pytest.raises(OpenApiError) as e:
            await api.ping()
        assert (e.value.status, e.value.code) == (403, "ip_refused")
        r = await client.patch(
            f"{KEYS}/{key['id']}", json={"ip_allowlist": ["127.0.0.1"]}, headers=h
        )
        assert r.status_code == 200
        for _ in range(3):  # the refused call was not counted: 3 of 3
            await api.ping()
        with pytest.raises(OpenApiError) as e:
            await api.ping()
        assert (e.value.status, e.value.code) == (429, "rate_limited")
        assert e.value.retry_after is not None
        assert 1 <= e.value.retry_after <= 60
    r = await client.get("/open/v1/ping", headers=_signed(key, "GET", "/open/v1/ping"))
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60


# ---- catalogue, balance, orders ------------------------------------------------------------


async def test_catalogue_balance_and_a_purchase_at_the_resellers_price(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    product_id, sku_id, secrets = await _shop(client, 3, price="12.50")
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
    key = await _key(client, h)
    async with _api(client, key) as api:
        assert await api.balance() == Decimal("100")
        cats = await api.categories()
        assert cats
        assert all({"id", "name", "parent_id"} <= c.keys() for c in cats)
        products = [p async for p in api.products(page_size=1)]
        mine = next(p for p in products if p["id"] == product_id)
        assert mine["skus"][0]["price"] == "9.5000"
        assert mine["skus"][0]["stock"] == 3
        with pytest.raises(OpenApiError) as e:
            await api.create_order("P-1", sku_id, 1, max_unit_price="9.00")
        assert (e.value.status, e.value.code) == (409, "price_changed")
        order = await api.create_order("P-1", sku_id, 2, max_unit_price="9.50")
        assert order["status"] == "delivered"
        assert order["total"] == "19.0000"
        assert sorted(k["secret"] for k in order["keys"]) == sorted(
            s for s in secrets if s in {k["secret"] for k in order["keys"]}
        )
        assert len(order["keys"]) == 2
        assert order["replayed"] is False
        again = await api.create_order("P-1", sku_id, 2, max_unit_price="9.50")
        assert again["replayed"] is True
        assert again["order_no"] == order["order_no"]
        assert again["keys"] == order["keys"]
        with pytest.raises(OpenApiError) as e:
            await api.create_order("P-1", sku_id, 1)
        assert (e.value.status, e.value.code) == (409, "out_trade_no_reused")
        got = await api.get_order("P-1")
        assert got is not None
        assert got["keys"] == order["keys"]
        assert await api.get_order("P-404") is None
        page = await api.list_orders()
        assert [o["out_trade_no"] for o in page["items"]] == ["P-1"]
        assert page["items"][0]["keys"] == []
        assert await api.balance() == Decimal("81")
        for refusal, args in (
            ("sold_out", ("P-2", sku_id, 2)),
            ("quantity_out_of_range", ("P-3", sku_id, 999)),
            ("product_not_found", ("P-4", 10**12, 1)),
        ):
            with pytest.raises(OpenApiError) as e:
                await api.create_order(*args)
            assert e.value.code == refusal
        with pytest.raises(OpenApiError) as e:
            await api.create_order("P-5", sku_id, 1, callback_url="http://10.0.0.1/cb")
        assert e.value.code == "url_not_allowed"
    assert await _orders(session, account.user.id) == 1


async def test_ten_identical_orders_at_once_make_one_order_and_one_charge(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 20)
    key = await _key(client, h)
    async with _api(client, key) as api:
        answers = await asyncio.gather(
            *(api.create_order("RACE-1", sku_id, 1) for _ in range(10)), return_exceptions=True
        )
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert errors == []
    orders = {a["order_no"] for a in answers if isinstance(a, dict)}
    assert len(orders) == 1
    assert sum(1 for a in answers if isinstance(a, dict) and not a["replayed"]) == 1
    assert await _orders(session, account.user.id) == 1
    assert await wallet.balance(session, account.user.id) == Decimal("90")
    n = await session.scalar(select(func.count()).select_from(OpenOrder))
    assert n == 1


async def test_b_cannot_read_or_cancel_as_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, ha = await _reseller(client, session)
    _, hb = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 2)
    ka, kb = await _key(client, ha), await _key(client, hb)
    async with _api(client, ka) as a, _api(client, kb) as b:
        await a.create_order("SAME-1", sku_id, 1)
        assert await b.get_order("SAME-1") is None
        with pytest.raises(OpenApiError) as e:
            await b.cancel_order("SAME-1")
        assert (e.value.status, e.value.code) == (404, "order_not_found")
        assert (await b.list_orders())["items"] == []
        # B may use the same number for an order of its own
        assert (await b.create_order("SAME-1", sku_id, 1))["replayed"] is False


async def test_cancel_only_before_processing_and_refunds_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 1)
    key = await _key(client, h)
    async with _api(client, key) as api:
        done = await api.create_order("C-1", sku_id, 1)
        with pytest.raises(OpenApiError) as e:
            await api.cancel_order("C-1")
        assert (e.value.status, e.value.code) == (409, "not_cancellable")
        assert done["status"] == "delivered"
        # an order waiting for stock (paid, not delivered): cancellable
        order_id = await session.scalar(
            select(OpenOrder.order_id).where(OpenOrder.out_trade_no == "C-1")
        )
        await session.execute(
            text(
                "UPDATE orders SET status='paid', delivered_qty=0, delivered_at=NULL, "
                "awaiting_stock=true WHERE id=:i"
            ),
            {"i": order_id},
        )
        await session.commit()
        assert (await api.get_order("C-1"))["status"] == "processing"  # type: ignore[index]
        before = await api.balance()
        out = await api.cancel_order("C-1")
        assert out["status"] == "cancelled"
        assert await api.balance() == before + Decimal("10")
        out = await api.cancel_order("C-1")  # again: the same answer, no second refund
        assert out["status"] == "cancelled"
        assert await api.balance() == before + Decimal("10")
        assert (await api.list_orders(status="cancelled"))["items"][0]["out_trade_no"] == "C-1"
        # the reseller's callback log names the cancel (and the refund it made), once each
        events = (
            await session.execute(
                text("SELECT event FROM reseller_callbacks WHERE order_id=:i ORDER BY event"),
                {"i": order_id},
            )
        ).scalars()
        assert list(events) == ["order.cancelled", "order.refunded"]
        # a direct recharge that went upstream: not cancellable
        await session.execute(
            text(
                "UPDATE orders SET status='delivering', delivery_type='direct_recharge', "
                "upstream_started_at=now(), refunded_total=0 WHERE id=:i"
            ),
            {"i": order_id},
        )
        await session.execute(
            text("UPDATE open_orders SET cancelled_at=NULL WHERE order_id=:i"), {"i": order_id}
        )
        await session.commit()
        with pytest.raises(OpenApiError) as e:
            await api.cancel_order("C-1")
        assert e.value.code == "not_cancellable"
    n = await session.scalar(
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.action == "resellers.order_cancel")
    )
    assert n == 1
    assert await wallet.balance(session, account.user.id) == Decimal("100")


def test_the_documented_worked_example() -> None:
    """docs/reseller-api.md's example: the exact string to sign and its signature."""
    text_ = signing.string_to_sign(
        "POST",
        "/open/v1/orders",
        [],
        "1765152000",
        "0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7",
        b'{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}',
    )
    assert text_ == (
        "POST\n/open/v1/orders\n\n1765152000\n0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7\n"
        + __import__("hashlib")
        .sha256(b'{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}')
        .hexdigest()
    )
    doc = (
        __import__("pathlib").Path(__file__).resolve().parents[1] / "docs/reseller-api.md"
    ).read_text()
    assert signing.sign("sk_example_secret_do_not_use", text_) in doc
    q = signing.canonical_query([("limit", "5"), ("status", "delivered"), ("cursor", "a b")])
    assert q == "cursor=a%20b&limit=5&status=delivered"
    assert q in doc


_ = timedelta


def test_the_documented_shell_signing_matches() -> None:
    """The doc's bash + openssl function signs exactly as the server checks."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("openssl") is None:
        pytest.skip("no openssl")
    doc = (Path(__file__).resolve().parents[1] / "docs/reseller-api.md").read_text()
    found = re.search(
        r"<!-- begin: sign.sh -->\n```bash\n(.*?)```\n<!-- end: sign.sh -->", doc, re.S
    )
    assert found is not None
    body = '{"out_trade_no":"A-1001","sku_id":7,"quantity":1,"buyer_input":{}}'
    nonce = "0f8e2a9c4b7d41e6a3c5b2d1e0f9a8b7"
    for method, path, query, content in (
        ("POST", "/open/v1/orders", "", body),
        ("GET", "/open/v1/orders", "cursor=a%20b&limit=5&status=delivered", ""),
    ):
        out = subprocess.run(
            [
                "bash",
                "-c",
                found.group(1) + '\nkameng_sign "$@"',
                "sh",
                method,
                path,
                query,
                "1765152000",
                nonce,
                content,
            ],
            env={"PATH": "/usr/bin:/bin", "KAMENG_SECRET": "sk_example_secret_do_not_use"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        pairs = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
        pairs = [(k, v.replace("%20", " ")) for k, v in pairs]
        expected = signing.sign(
            "sk_example_secret_do_not_use",
            signing.string_to_sign(method, path, pairs, "1765152000", nonce, content.encode()),  # type: ignore[arg-type]
        )
        assert out == expected
        assert out in doc


async def test_a_direct_recharge_not_yet_upstream_is_cancelled_once_under_a_race(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account, h = await _reseller(client, session)
    _, sku_id, _ = await _shop(client, 1)
    key = await _key(client, h)
    async with _api(client, key) as api:
        await api.create_order("D-1", sku_id, 1)
        order_id = await session.scalar(
            select(OpenOrder.order_id).where(OpenOrder.out_trade_no == "D-1")
        )
        # as a direct recharge handed to delivery, not yet sent to the supplier
        await session.execute(
            text(
                "UPDATE orders SET status='delivering', delivery_type='direct_recharge', "
                "delivered_qty=0, delivered_at=NULL, upstream_started_at=NULL WHERE id=:i"
            ),
            {"i": order_id},
        )
        await session.commit()
        assert (await api.get_order("D-1"))["status"] == "processing"  # type: ignore[index]
        answers = await asyncio.gather(*(api.cancel_order("D-1") for _ in range(5)))
        assert {a["status"] for a in answers} == {"cancelled"}
    assert await wallet.balance(session, account.user.id) == Decimal("100")
    refunds = await session.scalar(
        text("SELECT count(*) FROM wallet_entries WHERE kind = 'refund'")
    )
    assert refunds == 1
    status = await session.scalar(select(Order.status).where(Order.id == order_id))
    assert status == "refunded"
