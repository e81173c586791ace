"""A generic JSON-over-HTTP supplier (kameng's own simple upstream protocol).

- ``POST {base}/orders`` with ``{"request_id", "product", "sku", "quantity", "account"}``
- ``GET {base}/orders/{request_id}`` (404: unknown request)
- ``GET {base}/balance`` → ``{"balance": "12.3400"}``
- ``GET {base}/products`` → ``{"items": [{"product_id", "name", "cost"}]}``

Each request carries ``X-Kameng-Timestamp`` and ``X-Kameng-Signature`` = hex HMAC-SHA256 of
``"<timestamp>.<METHOD>.<path>.<body>"`` with the shared secret; order answers are
``{"request_id", "state": "success"|"failed"|"processing", "ref", "message"}``. The supplier
must treat a repeated ``request_id`` as the same order. Callbacks it pushes are signed the
same way with METHOD ``CALLBACK`` and an empty path, body = an order answer.

Credentials: ``{"secret": "..."}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from kameng_api.core.outbound import OutboundResponse
from kameng_api.suppliers.adapter import (
    BadCallback,
    CallbackNotice,
    CatalogueItem,
    RechargeRequest,
    RechargeResult,
    State,
    SupplierUnavailable,
)
from kameng_api.suppliers.calls import call

STATES = ("success", "failed", "processing")
WINDOW_S = 300


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    msg = f"{timestamp}.{method}.{path}.".encode() + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class HttpJsonSupplier:
    def __init__(
        self, base_url: str, credentials: Mapping[str, Any], *, timeout_s: float = 8.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = str(credentials.get("secret") or "")
        self.timeout_s = timeout_s

    async def _call(self, method: str, path: str, body: bytes = b"") -> OutboundResponse:
        url = self.base_url + path
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-kameng-timestamp": ts,
            "x-kameng-signature": signature(self.secret, ts, method, urlsplit(url).path, body),
        }
        return await call(method, url, headers=headers, content=body, timeout_s=self.timeout_s)

    @staticmethod
    def _json(r: OutboundResponse) -> Any:
        if r.status_code != 200:
            raise SupplierUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            return r.json()
        except ValueError as exc:
            raise SupplierUnavailable(f"unreadable answer: {r.text[:200]}") from exc

    @classmethod
    def _result(cls, r: OutboundResponse) -> RechargeResult:
        data = cls._json(r)
        state = data.get("state") if isinstance(data, dict) else None
        if state not in STATES:
            raise SupplierUnavailable(f"unknown state {state!r}")
        st: State = state
        return RechargeResult(st, str(data.get("ref") or "")[:64], str(data.get("message") or ""))

    async def submit(self, request: RechargeRequest) -> RechargeResult:
        body = json.dumps(
            {
                "request_id": request.request_id,
                "product": request.product,
                "sku": request.sku,
                "quantity": request.quantity,
                "account": request.account,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return self._result(await self._call("POST", "/orders", body))

    async def query(self, request_id: str) -> RechargeResult | None:
        r = await self._call("GET", f"/orders/{quote(request_id, safe='')}")
        if r.status_code == 404:
            return None
        return self._result(r)

    async def balance(self) -> Decimal:
        data = self._json(await self._call("GET", "/balance"))
        try:
            return Decimal(str(data["balance"]))
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise SupplierUnavailable("unreadable balance") from exc

    async def catalogue(self) -> list[CatalogueItem]:
        data = self._json(await self._call("GET", "/products"))
        out = []
        for it in data.get("items", []) if isinstance(data, dict) else []:
            cost = it.get("cost")
            out.append(
                CatalogueItem(
                    str(it["product_id"]),
                    str(it.get("name") or ""),
                    None if cost is None else Decimal(str(cost)),
                )
            )
        return out

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackNotice:
        ts = headers.get("x-kameng-timestamp", "")
        sig = headers.get("x-kameng-signature", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > WINDOW_S:
            raise BadCallback("stale or missing timestamp")
        if not hmac.compare_digest(signature(self.secret, ts, "CALLBACK", "", body), sig):
            raise BadCallback("bad signature")
        try:
            data = json.loads(body)
            state = data["state"]
            rid = str(data["request_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadCallback("unreadable notice") from exc
        if state not in STATES:
            raise BadCallback(f"unknown state {state!r}")
        return CallbackNotice(rid, state, str(data.get("ref") or "")[:64], event_id=ts + sig)
