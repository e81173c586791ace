"""A small async client of the open API ``/open/v1`` (httpx), signing every request with
``signing.py``. Used by resellers' Python code, by tests, and by the ``kameng`` supplier
adapter (one kameng instance buying from another), which passes its SSRF-guarded transport.

    async with OpenApiClient("https://shop.example", app_id, secret) as api:
        order = await api.create_order("A-1001", sku_id=7, quantity=1)

Errors: ``OpenApiError(status, code, detail)`` for every problem answer (4xx); a network
failure, a timeout or a 5xx is ``OpenApiUnavailable`` (safe to retry an order with the same
``out_trade_no``: it never buys twice).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx

from kameng_api.resellers.signing import (
    HEADER_APP_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    new_nonce,
    sign,
    string_to_sign,
)

PREFIX = "/open/v1"


class OpenApiError(Exception):
    """The API refused the request (a problem+json answer with a stable ``code``)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}
        self.retry_after = retry_after  # seconds, from Retry-After (429 rate_limited)


class OpenApiUnavailable(Exception):
    """No answer we can trust: a network error, a timeout, or a 5xx. Retry later.
    ``sent`` is False only when the request surely never reached the server (no connection),
    so an order certainly was not placed; otherwise ask (``get_order``) before resending."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class OpenApiClient:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        secret: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app_id = app_id
        self._secret = secret
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> OpenApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- signing ------------------------------------------------------------------------

    def signed_request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Request:
        """An ``httpx.Request`` with the four signing headers (exposed for tests/tools)."""
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        headers = {"content-type": "application/json"} if body is not None else {}
        request = self._http.build_request(
            method, PREFIX + path, params=query or None, content=content, headers=headers
        )
        ts, nonce = str(int(time.time())), new_nonce()
        raw_path = request.url.raw_path.decode("ascii").partition("?")[0]
        pairs = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        text = string_to_sign(method, raw_path, pairs, ts, nonce, content)
        request.headers[HEADER_APP_ID] = self.app_id
        request.headers[HEADER_TIMESTAMP] = ts
        request.headers[HEADER_NONCE] = nonce
        request.headers[HEADER_SIGNATURE] = sign(self._secret, text)
        return request

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        request = self.signed_request(method, path, params=params, body=body)
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise OpenApiUnavailable(f"{method} {path}: {exc!r}", sent=sent) from exc
        if response.status_code >= 500:
            raise OpenApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise OpenApiUnavailable(f"{method} {path}: not JSON") from exc
        if response.status_code >= 400:
            if not isinstance(data, dict):
                data = {}
            retry = response.headers.get("retry-after", "")
            raise OpenApiError(
                response.status_code,
                str(data.get("code", "unknown")),
                data.get("detail"),
                data,
                float(retry) if retry.isdigit() else None,
            )
        if not isinstance(data, dict):
            raise OpenApiUnavailable(f"{method} {path}: unexpected answer")
        return response.status_code, data

    # ---- the API ------------------------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        return (await self._call("GET", "/ping"))[1]

    async def balance(self) -> Decimal:
        return Decimal((await self._call("GET", "/balance"))[1]["balance"])

    async def categories(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self._call("GET", "/categories"))[1]["items"]
        return items

    async def products(
        self, category_id: int | None = None, *, page_size: int = 50
    ) -> AsyncIterator[dict[str, Any]]:
        """Every product on sale (all pages), with your price per SKU."""
        cursor: str | None = None
        while True:
            _, page = await self._call(
                "GET",
                "/products",
                params={"category_id": category_id, "cursor": cursor, "limit": page_size},
            )
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def create_order(
        self,
        out_trade_no: str,
        sku_id: int,
        quantity: int = 1,
        buyer_input: dict[str, str] | None = None,
        callback_url: str | None = None,
        max_unit_price: Decimal | str | None = None,
    ) -> dict[str, Any]:
        """The order (new, or the one this ``out_trade_no`` made before: ``replayed``)."""
        body: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "sku_id": sku_id,
            "quantity": quantity,
            "buyer_input": buyer_input or {},
        }
        if callback_url is not None:
            body["callback_url"] = callback_url
        if max_unit_price is not None:
            body["max_unit_price"] = str(max_unit_price)
        status, order = await self._call("POST", "/orders", body=body)
        order["replayed"] = status == 200
        return order

    async def get_order(self, out_trade_no: str) -> dict[str, Any] | None:
        """The order, or None when this number never made one (404 ``order_not_found``)."""
        try:
            return (await self._call("GET", f"/orders/{out_trade_no}"))[1]
        except OpenApiError as exc:
            if exc.status == 404 and exc.code == "order_not_found":
                return None
            raise

    async def list_orders(
        self, status: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """One page: ``{"items": [...], "next_cursor": ...}``."""
        return (
            await self._call(
                "GET", "/orders", params={"status": status, "cursor": cursor, "limit": limit}
            )
        )[1]

    async def cancel_order(self, out_trade_no: str) -> dict[str, Any]:
        return (await self._call("POST", f"/orders/{out_trade_no}/cancel"))[1]
