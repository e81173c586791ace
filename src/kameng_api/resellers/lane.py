"""The open-API lane: ``POST /open/v1/orders`` answered in front of routing when it is the
common case — a card key on sale, paid from the reseller's wallet — by the purchase lane's
own batch (``orders/lane.py``: the same caches, the same ``kameng_purchase_many`` statement,
no second allocation code).

Pure ASGI, in front of the purchase lane (``main.KamengApp`` calls it first); everything it
does not answer goes on, body intact, to the purchase lane, the middleware and the route,
which is the reference (``resellers/router.py``, ``open_orders.place``). In order:

1. **The signature**, by the rules of ``auth.py`` and with its code (``signed_headers``,
   ``check_signed``): the four headers, the key (``auth.KeyCache``: kept per process, read
   again in the background after 5 s — the purchase statement checks it again), the
   timestamp window, the HMAC over the exact request, the allowlist. Any refusal: nothing
   was spent, the route answers it (reading the key fresh from the database).
2. **The order, priced** from the purchase lane's caches (``PurchaseLane.prepare``): the
   body as the route validates it (``OpenOrderIn``), the SKU a card key on sale, the
   quantity and buyer input as the route allows, the price within ``max_unit_price``, a
   ``callback_url`` the outbound guard allows. Anything else: nothing was spent, the route
   answers.
3. **The gate**, ``auth.GateBatch``: the rate-limit count and the nonce, one Redis script
   for the requests of one moment, each judged as ``auth.run_gate`` judges it.
   From here on the nonce is spent: when the lane hands the request on it leaves the gate's
   verdict in the scope (``auth.GATE_SCOPE_KEY``) and the route takes it instead of asking
   Redis again — a refusal (``rate_limited``, ``nonce_reused``) is answered, and logged, by
   the route as always.
4. **The purchase**, in the next batch (``PurchaseLane.finish``) with an ``OpenOrderCheck``
   in place of a token session: the statement checks the key (active, not past its grace,
   the allowlist the lane used), its owner (an active reseller, the price level the lane
   priced for), the catalogue version, takes the route's transaction lock for (reseller,
   out_trade_no) without waiting and finds no order with that number — and writes the
   ``open_orders`` row with the order, the keys, the charge, the timeline, the notice job
   (whose run queues the ``order.delivered`` callback) and the ``orders.create`` entry of
   the operation log. Refused (the number is in use or has its order: a replay or a
   reuse; sold out; not enough money; the key revoked …): nothing happened, the route
   answers — the replay of a known out_trade_no (200, ``Idempotent-Replayed``, the same
   order) or ``out_trade_no_reused`` among them.
5. **The answer**: 201 and ``OpenOrderOut`` with the keys decrypted, as the route answers.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from pydantic import ValidationError
from starlette.types import ASGIApp, Scope, Send

from kameng_api.core import db, outbound
from kameng_api.core.actor import RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.context import request_id_var
from kameng_api.core.errors import AppError
from kameng_api.core.metrics import PURCHASE_LANE
from kameng_api.core.middleware import SAFE_REQUEST_ID, new_request_id, nul_in_json
from kameng_api.orders import purchase
from kameng_api.orders.idempotency import request_hash
from kameng_api.orders.lane import Bought, Front, PurchaseLane
from kameng_api.resellers import auth, keys
from kameng_api.resellers.open_orders import OPEN_ORDER_LOCK
from kameng_api.resellers.schemas import OpenKey, OpenOrderIn, OpenOrderOut

log = logging.getLogger(__name__)

PATH = "/open/v1/orders"
_JSON = b"application/json"


class OpenOrderLane(Front):
    name = "open-API lane"

    def __init__(
        self, app: ASGIApp, purchases: PurchaseLane, *, max_bytes: int, cors: bool
    ) -> None:
        super().__init__(app, PATH, max_bytes=max_bytes, cors=cors, statuses=(201,))
        self.purchases = purchases  # its caches and its batches
        self.keys = auth.KeyCache()
        self.gate = auth.GateBatch()
        self.noted: dict[int, float] = {}  # key id → when this process last noted its use

    async def _answer(
        self, scope: Scope, headers: dict[bytes, bytes], raw: bytes, send: Send, started: float
    ) -> bool:
        """Answer the request here, or False: the routes answer it."""

        def header(name: str) -> str:
            return headers.get(name.lower().encode(), b"").decode("latin-1")

        if not header("content-type").lower().startswith("application/json"):
            return False
        if nul_in_json(raw) or any(b"\x00" in v for v in headers.values()):
            return False  # the NUL guard answers
        try:
            signed = auth.signed_headers(header)
            body = OpenOrderIn.model_validate_json(raw)
        except (AppError, ValidationError):
            return False
        key = await self.keys.get(signed.app_id)
        if key is None:
            return False
        client = scope.get("client")
        ip = client[0] if client else None
        try:
            auth.check_signed(key, signed, scope, raw, ip)
            if body.callback_url:
                await outbound.check_url(body.callback_url)
        except AppError:
            return False
        incoming = header("x-request-id")
        rid = incoming if SAFE_REQUEST_ID.match(incoming) else new_request_id()
        request_id_var.set(rid)
        meta = RequestMeta(ip=ip, user_agent=header("user-agent") or None, request_id=rid)
        ready = await self.purchases.prepare(
            key.user_id, UserKind.reseller, meta, body.sku_id, body.quantity, body.buyer_input
        )
        if ready is None or (
            body.max_unit_price is not None and ready.order.unit_price > body.max_unit_price
        ):
            return False
        gate = await self.gate.run(key, signed.nonce)
        if gate.verdict != 1:
            scope[auth.GATE_SCOPE_KEY] = gate  # the route answers the refusal
            return False
        self._note_used(key)
        out = await self.purchases.finish(
            ready,
            purchase.LaneChecks(
                buyer=ready.buyer,
                catalog_version=ready.catalog_version,
                open_order=purchase.OpenOrderCheck(
                    key_id=key.id,
                    ip_allowlist=key.ip_allowlist,
                    out_trade_no=body.out_trade_no,
                    request_hash=request_hash(body.digest_body()),
                    callback_url=body.callback_url or None,
                    lock=OPEN_ORDER_LOCK,
                ),
            ),
        )
        PURCHASE_LANE.labels("bought" if isinstance(out, Bought) else "handed_over").inc()
        if not isinstance(out, Bought):
            # refused in the database (a replay, sold out, the key revoked …): the route
            # answers, with the gate's verdict; the key is read again next time
            self.keys.forget(key.app_id)
            scope[auth.GATE_SCOPE_KEY] = gate
            return False
        await self._send(send, 201, _JSON, _answer(ready.order, body, out), rid, started)
        return True

    def _note_used(self, key: keys.RequestKey) -> None:
        """``last_used_at`` as the route writes it (at most once a minute per key), after."""
        now = time.monotonic()
        if now - self.noted.get(key.id, float("-inf")) < keys.LAST_USED_EVERY_S:
            return
        self.noted[key.id] = now
        if (
            key.last_used_at is not None
            and (clock.now() - key.last_used_at).total_seconds() < keys.LAST_USED_EVERY_S
        ):
            return
        self.purchases.spawn(_note_used(key))


async def _note_used(key: keys.RequestKey) -> None:
    async with db.unit_of_work() as session:
        await keys.note_used(session, key)


def _answer(order: purchase.Request, body: OpenOrderIn, out: Bought) -> bytes:
    """``OpenOrderOut`` of the order the batch made, as the route answers it."""
    at: datetime = datetime.fromisoformat(out.result["at"]).astimezone(UTC)
    return (
        OpenOrderOut(
            order_no=order.order_no,
            out_trade_no=body.out_trade_no,
            status="delivered",
            sku_id=order.sku_id,
            product_name=order.product_name,
            sku_name=order.sku_name,
            quantity=order.quantity,
            unit_price=order.unit_price,
            total=order.total,
            created_at=at,
            delivered_at=at,
            keys=[OpenKey(card_no=k.card_no, secret=k.secret) for k in out.keys],
        )
        .model_dump_json()
        .encode()
    )
