"""Another kameng as our supplier, through its reseller open API ``/open/v1``.

Requests are signed per ``resellers/signing.py`` (HMAC-SHA256 over method, path, canonical
query, timestamp, nonce and the body's SHA-256). ``submit`` = ``POST /open/v1/orders`` with
``out_trade_no`` = our request id (the upstream is idempotent by it); ``query`` =
``GET /open/v1/orders/{out_trade_no}`` (404 ``order_not_found`` → unknown); ``balance`` =
``GET /open/v1/balance``; ``catalogue`` = ``GET /open/v1/products`` (pages by
``next_cursor``). Status: delivered → success (with ``keys`` for card orders), processing /
paid / delivering → processing, failed / refunded / cancelled → failed. Callbacks arrive as
Standard Webhooks, checked with the upstream account's ``whsec_`` secret.

NOTE: the reseller client (``resellers/client.py``, ``OpenApiClient``) is being written on
another branch; until it is merged this adapter makes its own small signed calls (through the
SSRF guard). At merge it is switched to the client; the mapping of answers stays here.

Credentials: ``{"app_id", "secret", "webhook_secret"}``.
"""

from __future__ import annotations

import binascii
import hmac
import json
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from kameng_api.resellers import signing
from kameng_api.suppliers.adapter import (
    BadCallback,
    CallbackNotice,
    CardSecret,
    CatalogueItem,
    RechargeRequest,
    RechargeResult,
    State,
    SupplierUnavailable,
)
from kameng_api.suppliers.calls import call

STATUS: dict[str, State] = {
    "delivered": "success",
    "partially_delivered": "processing",
    "processing": "processing",
    "delivering": "processing",
    "paid": "processing",
    "pending_payment": "processing",
    "failed": "failed",
    "refunded": "failed",
    "cancelled": "failed",
}


class KamengSupplier:
    def __init__(
        self, base_url: str, credentials: Mapping[str, Any], *, timeout_s: float = 8.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = str(credentials.get("app_id") or "")
        self.secret = str(credentials.get("secret") or "")
        self.webhook_secret = str(credentials.get("webhook_secret") or "")
        self.timeout_s = timeout_s

    async def _call(
        self, method: str, path: str, query: list[tuple[str, str]] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        q = query or []
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        ts, nonce = str(int(time.time())), signing.new_nonce()
        text = signing.string_to_sign(method, path, q, ts, nonce, raw)
        headers = {
            signing.HEADER_APP_ID: self.app_id,
            signing.HEADER_TIMESTAMP: ts,
            signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signing.sign(self.secret, text),
            "content-type": "application/json",
        }
        url = self.base_url + path + ("?" + urlencode(q) if q else "")
        r = await call(method, url, headers=headers, content=raw or None, timeout_s=self.timeout_s)
        if r.status_code >= 500 or r.status_code in (401, 403, 429):
            raise SupplierUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            return r.status_code, r.json()
        except ValueError as exc:
            raise SupplierUnavailable(f"unreadable answer: {r.text[:200]}") from exc

    @staticmethod
    def _order(data: Any) -> RechargeResult:
        status = data.get("status") if isinstance(data, dict) else None
        if status not in STATUS:
            raise SupplierUnavailable(f"unknown status {status!r}")
        keys = tuple(
            CardSecret(str(k.get("secret") or ""), str(k.get("card_no") or ""))
            for k in data.get("keys") or []
        )
        total = data.get("total")
        return RechargeResult(
            STATUS[status],
            str(data.get("order_no") or "")[:64],
            str(data.get("failure_reason") or ""),
            cost=None if total is None else Decimal(str(total)),
            cards=keys,
        )

    async def submit(self, request: RechargeRequest) -> RechargeResult:
        status, data = await self._call(
            "POST",
            "/open/v1/orders",
            body={
                "out_trade_no": request.request_id,
                "sku_id": int(request.product) if request.product.isdigit() else request.product,
                "quantity": request.quantity,
                "buyer_input": request.account,
            },
        )
        if status in (200, 201):
            return self._order(data)
        if 400 <= status < 500:  # refused (no balance, off sale, bad input): nothing ordered
            detail = data.get("detail") if isinstance(data, dict) else ""
            return RechargeResult("failed", "", str(detail or status)[:200])
        raise SupplierUnavailable(f"HTTP {status}")

    async def query(self, request_id: str) -> RechargeResult | None:
        status, data = await self._call("GET", f"/open/v1/orders/{quote(request_id, safe='')}")
        if status == 404:
            return None
        if status != 200:
            raise SupplierUnavailable(f"HTTP {status}")
        return self._order(data)

    async def balance(self) -> Decimal:
        status, data = await self._call("GET", "/open/v1/balance")
        try:
            assert status == 200
            return Decimal(str(data["balance"]))
        except (AssertionError, KeyError, TypeError, InvalidOperation) as exc:
            raise SupplierUnavailable(f"balance: HTTP {status}") from exc

    async def catalogue(self) -> list[CatalogueItem]:
        out: list[CatalogueItem] = []
        cursor = ""
        for _ in range(200):  # pages; a loop without end is a bug upstream
            status, data = await self._call(
                "GET", "/open/v1/products", [("cursor", cursor)] if cursor else []
            )
            if status != 200 or not isinstance(data, dict):
                raise SupplierUnavailable(f"catalogue: HTTP {status}")
            for p in data.get("items") or []:
                for s in p.get("skus") or [p]:
                    price = s.get("price")
                    out.append(
                        CatalogueItem(
                            str(s.get("sku_id") or s.get("id")),
                            f"{p.get('name', '')} {s.get('name', '')}".strip(),
                            None if price is None else Decimal(str(price)),
                            str(p.get("delivery_type") or ""),
                        )
                    )
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                break
        return out

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackNotice:
        msg_id = headers.get("webhook-id", "")
        ts = headers.get("webhook-timestamp", "")
        given = headers.get("webhook-signature", "")
        if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > signing.WINDOW_S:
            raise BadCallback("stale or missing webhook headers")
        try:
            want = signing.webhook_signature(self.webhook_secret, msg_id, int(ts), body)
        except (ValueError, binascii.Error) as exc:
            raise BadCallback("no webhook secret") from exc
        if not any(hmac.compare_digest(want, s) for s in given.split()):
            raise BadCallback("bad signature")
        try:
            data = json.loads(body)
            order = data.get("data", data)
            result = self._order(order)
            rid = str(order["out_trade_no"])
        except (ValueError, KeyError, TypeError, AttributeError, SupplierUnavailable) as exc:
            raise BadCallback("unreadable notice") from exc
        return CallbackNotice(rid, result.state, result.ref, result.message, event_id=msg_id)
