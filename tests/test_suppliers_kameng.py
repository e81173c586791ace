"""The kameng protocol adapter (another kameng's open API as our supplier), against a small
upstream on a real local port that checks the open-API signature rules of
``resellers/signing.py`` and answers like ``/open/v1``; and its Standard Webhooks callbacks
through our public callback route."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kameng_api.resellers import signing
from kameng_api.suppliers.adapter import BadCallback, RechargeRequest
from kameng_api.suppliers.kameng import KamengSupplier
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env

APP_ID = "ak_upstream"
SECRET = "sk_upstream-secret"
WHSEC = signing.new_webhook_secret()


class Upstream:
    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.created: Counter[str] = Counter()
        self.bad = 0
        self.status = "delivered"
        self.app = Starlette(
            routes=[
                Route("/open/v1/orders", self.create, methods=["POST"]),
                Route("/open/v1/orders/{no}", self.get, methods=["GET"]),
                Route("/open/v1/balance", self.balance, methods=["GET"]),
                Route("/open/v1/products", self.products, methods=["GET"]),
            ]
        )

    async def _ok(self, request: Request, body: bytes) -> bool:
        h = request.headers
        text = signing.string_to_sign(
            request.method,
            request.url.path,
            list(request.query_params.multi_items()),
            h.get(signing.HEADER_TIMESTAMP, ""),
            h.get(signing.HEADER_NONCE, ""),
            body,
        )
        ok = h.get(signing.HEADER_APP_ID) == APP_ID and signing.signature_matches(
            SECRET, text, h.get(signing.HEADER_SIGNATURE, "")
        )
        self.bad += not ok
        return ok

    async def create(self, request: Request) -> Response:
        body = await request.body()
        if not await self._ok(request, body):
            return JSONResponse({"code": "bad_signature"}, status_code=401)
        data = json.loads(body)
        no = data["out_trade_no"]
        if no not in self.orders:
            self.created[no] += 1
            self.orders[no] = {
                "out_trade_no": no,
                "order_no": f"U{len(self.orders) + 1:08d}",
                "status": self.status,
                "total": "9.0000",
                "keys": [],
            }
        return JSONResponse(self.orders[no], status_code=201)

    async def get(self, request: Request) -> Response:
        if not await self._ok(request, b""):
            return JSONResponse({"code": "bad_signature"}, status_code=401)
        o = self.orders.get(request.path_params["no"])
        if o is None:
            return JSONResponse({"code": "order_not_found"}, status_code=404)
        return JSONResponse(o)

    async def balance(self, request: Request) -> Response:
        if not await self._ok(request, b""):
            return JSONResponse({"code": "bad_signature"}, status_code=401)
        return JSONResponse({"balance": "123.4500"})

    async def products(self, request: Request) -> Response:
        if not await self._ok(request, b""):
            return JSONResponse({"code": "bad_signature"}, status_code=401)
        if request.query_params.get("cursor") == "p2":
            items = [{"name": "B", "skus": [{"id": 2, "name": "20元", "price": "19.00"}]}]
            return JSONResponse({"items": items, "next_cursor": None})
        items = [{"name": "A", "skus": [{"id": 1, "name": "10元", "price": "9.50"}]}]
        return JSONResponse({"items": items, "next_cursor": "p2"})


@pytest.fixture
async def upstream(app_db: str) -> AsyncIterator[tuple[Upstream, str]]:
    up = Upstream()
    port = free_port()
    server, task = await serve_app(up.app, port)
    try:
        with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true"):
            yield up, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _adapter(url: str) -> KamengSupplier:
    return KamengSupplier(url, {"app_id": APP_ID, "secret": SECRET, "webhook_secret": WHSEC})


async def test_the_kameng_adapter_speaks_the_open_api(upstream: tuple[Upstream, str]) -> None:
    up, url = upstream
    a = _adapter(url)
    req = RechargeRequest("K1-1-3", "42", "10元", 1, {"account": "10086"})
    assert await a.query("K1-1-3") is None  # 404 order_not_found → never heard of it
    first = await a.submit(req)
    again = await a.submit(req)  # idempotent by out_trade_no
    assert (first.state, first.ref, first.cost) == ("success", "U00000001", Decimal("9.0000"))
    assert again.ref == first.ref
    assert up.created == {"K1-1-3": 1}
    q = await a.query("K1-1-3")
    assert q is not None
    assert q.state == "success"
    up.orders["K1-1-3"]["status"] = "refunded"
    q = await a.query("K1-1-3")
    assert q is not None
    assert q.state == "failed"
    assert await a.balance() == Decimal("123.4500")
    cat = await a.catalogue()
    assert [(c.product_id, c.cost) for c in cat] == [
        ("1", Decimal("9.50")),
        ("2", Decimal("19.00")),
    ]
    assert up.bad == 0
    # a wrong secret is refused upstream: no usable answer
    bad = KamengSupplier(url, {"app_id": APP_ID, "secret": "wrong"})
    with pytest.raises(Exception, match="HTTP 401"):
        await bad.balance()


def _webhook(
    body: dict[str, Any], secret: str = WHSEC, ts: int | None = None
) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    ts = int(time.time()) if ts is None else ts
    msg_id = f"msg_{time.time_ns()}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signing.webhook_signature(secret, msg_id, ts, raw),
    }, raw


async def test_standard_webhooks_callbacks_are_checked(upstream: tuple[Upstream, str]) -> None:
    _, url = upstream
    a = _adapter(url)
    body = {
        "type": "order.delivered",
        "data": {"out_trade_no": "K1-1-3", "status": "delivered", "order_no": "U1"},
    }
    headers, raw = _webhook(body)
    notice = a.verify_callback(headers, raw)
    assert (notice.request_id, notice.state, notice.ref) == ("K1-1-3", "success", "U1")
    with pytest.raises(BadCallback):
        a.verify_callback(headers, raw.replace(b"delivered", b"failed"))  # tampered
    with pytest.raises(BadCallback):
        a.verify_callback(*_webhook(body, secret=signing.new_webhook_secret()))  # other secret
    with pytest.raises(BadCallback):
        a.verify_callback(*_webhook(body, ts=int(time.time()) - 3600))  # stale


async def test_a_kameng_upstream_delivers_an_order_and_its_webhook_is_bound(
    client: httpx.AsyncClient, session: Any, upstream: tuple[Upstream, str]
) -> None:
    from tests.test_suppliers import _buy, _deliver, _order

    up, url = upstream
    up.status = "processing"
    admin = await login(client, await make_user(roles=("super_admin",), mfa=True))
    r = await client.post(
        "/api/v1/suppliers",
        json={
            "name": "上游卡盟",
            "protocol": "kameng",
            "base_url": url,
            "credentials": {"app_id": APP_ID, "secret": SECRET, "webhook_secret": WHSEC},
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    from tests.test_fulfilment import ACCOUNT_FIELDS
    from tests.test_orders import _shop

    with settings_env(KAMENG_RECHARGE_SUPPLIER_URL=""):
        _, sku_id, _ = await _shop(
            client, 0, price="6.00", delivery_type="direct_recharge", buyer_fields=ACCOUNT_FIELDS
        )
        r = await client.post(
            f"/api/v1/skus/{sku_id}/supplier-mappings",
            json={"supplier_id": sid, "supplier_product_id": "42"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        order = await _buy(client, session, sku_id)
        assert await _deliver(session, order["id"]) == "done"
        rid = f"{order['order_no']}-1-{sid}"
        assert up.created == {rid: 1}
        assert (await _order(session, order["order_no"])).status == "delivering"
        # a webhook naming an order we never sent this supplier changes nothing
        headers, raw = _webhook({"data": {"out_trade_no": "X-1-1", "status": "delivered"}})
        r = await client.post(f"/api/v1/suppliers/{sid}/callback", headers=headers, content=raw)
        assert r.json() == {"result": "unknown"}
        headers, raw = _webhook(
            {"data": {"out_trade_no": rid, "status": "delivered", "order_no": "U1"}}
        )
        r = await client.post(f"/api/v1/suppliers/{sid}/callback", headers=headers, content=raw)
        assert r.json() == {"result": "success"}
        # the very same message again: a replay
        r = await client.post(f"/api/v1/suppliers/{sid}/callback", headers=headers, content=raw)
        assert r.json() == {"result": "replayed"}
        assert (await _order(session, order["order_no"])).status == "delivered"
