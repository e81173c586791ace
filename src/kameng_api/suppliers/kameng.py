"""Another kameng as our supplier, through its reseller open API ``/open/v1``.

Requests are signed per ``resellers/signing.py`` (HMAC-SHA256 over method, path, canonical
query, timestamp, nonce and the body's SHA-256). ``submit`` = ``POST /open/v1/orders`` with
``out_trade_no`` = our request id (the upstream is idempotent by it); ``query`` =
``GET /open/v1/orders/{out_trade_no}`` (404 ``order_not_found`` → unknown); ``balance`` =
``GET /open/v1/balance``; ``catalogue`` = ``GET /open/v1/products`` (pages by
``next_cursor``). Status: delivered → success (with ``keys`` for card orders), processing /
paid / delivering → processing, failed / refunded / cancelled → failed. Callbacks arrive as
Standard Webhooks, checked with the upstream account's ``whsec_`` secret.

The calls are made by the open API's own Python client (``resellers/client.py``), through the
SSRF guard (``core.outbound.GuardedTransport``): the client is exercised for real by every
order this adapter places.

Credentials: ``{"app_id", "secret", "webhook_secret"}``.
"""

from __future__ import annotations

import binascii
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from kameng_api.core.outbound import GuardedTransport
from kameng_api.resellers import signing
from kameng_api.resellers.client import OpenApiClient, OpenApiError, OpenApiUnavailable
from kameng_api.suppliers.adapter import (
    BadCallback,
    CallbackNotice,
    CardSecret,
    CatalogueItem,
    RechargeRequest,
    RechargeResult,
    State,
    SupplierUnavailable,
    SupplierUnreachable,
)

T = TypeVar("T")
RETRY_LATER = (401, 403, 429)  # our key, the allowlist or the rate limit: not the order's fault

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

    def _client(self) -> OpenApiClient:
        return OpenApiClient(
            self.base_url,
            self.app_id,
            self.secret,
            timeout_s=self.timeout_s,
            transport=GuardedTransport(timeout_s=self.timeout_s),
        )

    async def _ask(self, what: Callable[[OpenApiClient], Awaitable[T]]) -> T:
        """One call through the client; its errors as the adapter interface's."""
        try:
            async with self._client() as api:
                return await what(api)
        except OpenApiUnavailable as exc:
            raise (SupplierUnavailable if exc.sent else SupplierUnreachable)(str(exc)) from exc
        except OpenApiError as exc:
            if exc.status in RETRY_LATER or exc.status >= 500:
                raise SupplierUnavailable(f"HTTP {exc.status} {exc.code}: {exc.detail}") from exc
            raise
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise SupplierUnavailable(f"unreadable answer: {exc!r}") from exc

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
        if not request.product.isdigit():
            return RechargeResult("failed", "", f"bad upstream SKU id {request.product!r}")
        try:
            data = await self._ask(
                lambda api: api.create_order(
                    request.request_id,
                    int(request.product),
                    request.quantity,
                    dict(request.account),
                )
            )
        except OpenApiError as exc:  # refused (no balance, off sale, bad input): nothing ordered
            return RechargeResult("failed", "", f"{exc.code}: {exc.detail or ''}"[:200])
        return self._order(data)

    async def query(self, request_id: str) -> RechargeResult | None:
        try:
            data = await self._ask(lambda api: api.get_order(request_id))
        except OpenApiError as exc:
            raise SupplierUnavailable(f"HTTP {exc.status} {exc.code}") from exc
        return None if data is None else self._order(data)

    async def balance(self) -> Decimal:
        try:
            return await self._ask(lambda api: api.balance())
        except OpenApiError as exc:
            raise SupplierUnavailable(f"balance: HTTP {exc.status} {exc.code}") from exc

    async def catalogue(self) -> list[CatalogueItem]:
        async def pages(api: OpenApiClient) -> list[dict[str, Any]]:
            products: AsyncIterator[dict[str, Any]] = api.products()
            return [p async for p in products]

        try:
            products = await self._ask(pages)
        except OpenApiError as exc:
            raise SupplierUnavailable(f"catalogue: HTTP {exc.status} {exc.code}") from exc
        out: list[CatalogueItem] = []
        for p in products:
            for s in p.get("skus") or []:
                price = s.get("price")
                out.append(
                    CatalogueItem(
                        str(s.get("id")),
                        f"{p.get('name', '')} {s.get('name', '')}".strip(),
                        None if price is None else Decimal(str(price)),
                        str(p.get("delivery_type") or ""),
                    )
                )
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
