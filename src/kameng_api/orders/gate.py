"""The flash-sale gate: ``POST /api/v1/orders`` for a SKU that sold out a moment ago is
answered ``sold_out`` here, in front of routing, with no database work.

When a claim finds no key, ``inventory.mark_sold_out`` raises a flag in Redis (cleared when
keys come back, see inventory/service.py). While it is up, a balance purchase of that SKU with
an ``Idempotency-Key`` never seen before is answered 409 ``sold_out`` after one Redis command
(``idempotency.first_use_and_flagged``). Everything else goes on to the route unchanged: a
retry of a purchase that went through (its key is marked, so it always reaches its stored
answer), another payment method, a body the route must judge (it validates and explains), a
missing or bad token (the route answers 401).

Who may be told ``sold_out``: a caller with a valid access token (signature, audience,
issuer, expiry, type — the same check as every route). The session row is *not* read: the
answer says only what the shop's product page says (no stock) and changes nothing, and
reading the row is exactly the database work the gate exists to avoid. A session revoked
within the access token's lifetime (15 minutes) may thus still hear ``sold_out``; it cannot
buy, read or change anything (the route checks the session). Gate answers are counted
(``kameng_sold_out_at_gate_total``) but not written to the operation log: they change nothing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng_api.core import security
from kameng_api.core.errors import problem_response
from kameng_api.core.metrics import SOLD_OUT_AT_GATE
from kameng_api.inventory import service as inventory
from kameng_api.orders import idempotency

SCOPE = "orders:create"  # the Idempotency-Key scope of the purchase route


class SoldOutGate:
    """Pure ASGI middleware in front of the routers (inside the body size limit)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.route = SimpleNamespace(path=path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:  # the body is small (the size limit outside bounds it)
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if await self._sold_out(scope, body):
            SOLD_OUT_AT_GATE.inc()
            scope["route"] = self.route
            answer = problem_response(
                status=409, code="sold_out", title="Sold out", detail="已售罄 (sold out)"
            )
            await answer(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _sold_out(scope: Scope, body: bytes) -> bool:
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        if scheme.lower() != "bearer" or not token or not 8 <= len(key) <= 128:
            return False
        try:
            data: Any = json.loads(body)
            sku_id = data["sku_id"]
            if type(sku_id) is not int or data.get("pay_method", "balance") != "balance":
                return False
            claims = security.decode_jwt(token.strip(), typ="access")
            owner = int(claims["sub"])
        except (ValueError, KeyError, TypeError, security.TokenError):
            return False  # the route answers whatever is wrong
        return await idempotency.first_use_and_flagged(
            owner, SCOPE, key, inventory.sold_out_key(sku_id)
        )
