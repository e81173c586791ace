"""A generic JSON-over-HTTP supplier (kameng's own simple upstream protocol).

- ``POST {base}/orders`` with ``{"request_id", "product", "sku", "quantity", "account"}``
- ``GET {base}/orders/{request_id}``

Both carry ``X-Kameng-Timestamp`` and ``X-Kameng-Signature`` = hex HMAC-SHA256 of
``"<timestamp>.<METHOD>.<path>.<body>"`` with the shared secret, and both answer
``{"request_id", "state": "success"|"failed"|"processing", "ref", "message"}`` (404: unknown
request). The supplier must treat a repeated ``request_id`` as the same order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import httpx

from kameng_api.suppliers.adapter import RechargeRequest, RechargeResult, SupplierUnavailable

STATES = ("success", "failed", "processing")


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    msg = f"{timestamp}.{method}.{path}.".encode() + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class HttpJsonSupplier:
    def __init__(self, base_url: str, secret: str, *, timeout_s: float = 8.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout_s = timeout_s

    async def _call(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        url = self.base_url + path
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-kameng-timestamp": ts,
            "x-kameng-signature": signature(self.secret, ts, method, urlsplit(url).path, body),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as c:
                return await c.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SupplierUnavailable(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _result(r: httpx.Response) -> RechargeResult:
        if r.status_code != 200:
            raise SupplierUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            data = r.json()
            state = data["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SupplierUnavailable(f"unreadable answer: {r.text[:200]}") from exc
        if state not in STATES:
            raise SupplierUnavailable(f"unknown state {state!r}")
        return RechargeResult(
            state, str(data.get("ref") or "")[:64], str(data.get("message") or "")
        )

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
        r = await self._call("GET", f"/orders/{request_id}")
        if r.status_code == 404:
            return None
        return self._result(r)
