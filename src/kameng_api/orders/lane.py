"""The purchase lane: ``POST /api/v1/orders`` answered in front of routing when it is the
flash-sale case — a balance purchase of card keys — with one Redis command for a SKU that
sold out a moment ago, and one database statement for a purchase.

Pure ASGI, in front of every middleware layer (``main.KamengApp`` calls it first): it does
itself what those layers do for its two answers — the request id, the security headers,
the access metrics, the body size limit (a larger body, or a cross-origin call when CORS is
configured, goes the long way). It answers only two things; everything else goes on, body
intact, to the middleware and the route, which is the reference and answers every other
case (validation errors, refusals, retries, other payment methods and products):

1. **The sold-out gate.** When a claim finds no key, ``inventory.mark_sold_out`` raises a
   flag in Redis (cleared when keys come back, see inventory/gate.py). While it is up, a
   purchase of that SKU with an ``Idempotency-Key`` never seen before is answered 409
   ``sold_out`` after one Redis check (``idempotency.Gate``: the checks of one moment go in
   one command). A retry of a purchase that went through is never gated: its key is marked.
   A card-key SKU sourced upstream (``orders/sourcing.py``, cached) is never flagged, and an
   empty claim of one is not answered here: the route sells it, keys bought upstream.
2. **The purchase.** The SKU, its product and prices come from a per-process snapshot and
   the buyer's price level from a per-process cache; the price is computed by the pricing
   function and the buyer input checked here, as the route does. Then the batch's one
   statement, ``kameng_purchase_many`` (orders/purchase.py), checks what the caches and the
   token claimed — the session is live, the buyer's level and the catalogue version are
   unchanged, the Idempotency-Key is new — and does the whole purchase, storing the key's
   answer. Any refusal or mismatch leaves nothing behind and the request goes to the route,
   which then does it all the long way (and answers, and stores, the refusal).

Who may be answered here: a caller with a valid access token (signature, audience, issuer,
expiry, type — the same check as every route). A purchase is answered only after the
database confirmed the token's session. The gate does not read the session: its answer says
only what the product page says (no stock) and changes nothing; a session revoked within
the token's lifetime (15 minutes) may still hear ``sold_out``. Gate answers are counted
(``kameng_sold_out_at_gate_total``) but not written to the operation log; a purchase writes
its ``orders.create`` entry in the same statement.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameng_api.catalog import pricing
from kameng_api.catalog import service as catalog
from kameng_api.core import db, security
from kameng_api.core.actor import RequestMeta, UserKind
from kameng_api.core.bounds import BIGINT_MAX
from kameng_api.core.clock import clock
from kameng_api.core.context import request_id_var
from kameng_api.core.errors import (
    PROBLEM_JSON,
    AppError,
    ErrorCode,
    dependency_away,
    problem_response,
    unavailable_response,
)
from kameng_api.core.metrics import HTTP_LATENCY, HTTP_REQUESTS, PURCHASE_LANE, SOLD_OUT_AT_GATE
from kameng_api.core.middleware import (
    SAFE_REQUEST_ID,
    SECURITY_HEADERS,
    new_request_id,
    nul_in_json,
)
from kameng_api.inventory import service as inventory
from kameng_api.orders import idempotency, purchase, sourcing
from kameng_api.orders.buyer_input import check_buyer_input
from kameng_api.orders.placing import card_key_request
from kameng_api.orders.schemas import DeliveredKeyOut
from kameng_api.settings import get_settings

log = logging.getLogger(__name__)

SCOPE = "orders:create"  # the Idempotency-Key scope of the purchase route
_FIELDS = frozenset({"sku_id", "quantity", "pay_method", "buyer_input"})
_CACHE_MAX = 50_000


class _Parsed(SimpleNamespace):
    owner: int
    session_id: str
    kind: UserKind
    key: str
    body: dict[str, Any]
    digest: str  # the request's hash, as the route computes it
    user_agent: str | None
    lane: bool  # a purchase the lane may try (else only the gate applies)


@dataclass(frozen=True)
class Ready:
    """A purchase priced from the lane's caches, not yet made (``PurchaseLane.prepare``)."""

    order: purchase.Request
    buyer: pricing.Buyer
    catalog_version: int
    upstream: bool = False  # the SKU is sourced upstream: an empty stock is not an answer


@dataclass(frozen=True)
class Bought:
    """What the batch made of a purchase: its answer (order id, keys, the time) and the keys
    decrypted for the buyer."""

    result: dict[str, Any]
    keys: list[DeliveredKeyOut]


class Front:
    """A pure-ASGI answer in front of routing for ``POST path``: reads a small body, and
    either answers (``_answer`` is True) or hands the request on, body intact, to ``app``.
    The purchase lane below, and the open-API lane (``resellers/lane.py``)."""

    name = "lane"

    def __init__(
        self, app: ASGIApp, path: str, *, max_bytes: int, cors: bool, statuses: tuple[int, ...]
    ) -> None:
        self.app = app  # everything else: the middleware, the routes
        self.path = path
        self.max_bytes = max_bytes  # the body size limit
        self.cors = cors  # CORS is configured: a cross-origin call goes the long way
        self.answered = {s: HTTP_REQUESTS.labels("POST", path, str(s)) for s in statuses}
        self.latency = HTTP_LATENCY.labels("POST", path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        messages: list[Message] = []
        raw = b""
        # what the layers around the routes do (CORS, the size limit) they do for the rest
        if (
            declared.isdigit()
            and int(declared) <= self.max_bytes
            and not (self.cors and b"origin" in headers)
        ):
            while True:  # small: its declared length is within the limit
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                raw += message.get("body", b"")
                if not message.get("more_body", False) or len(raw) > self.max_bytes:
                    break
            if len(raw) <= self.max_bytes:
                try:
                    if await self._answer(scope, headers, raw, send, started):
                        return
                except Exception as exc:  # answered in the one shape, never a bare 500
                    await self._failed(send, exc, started)
                    return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _answer(
        self, scope: Scope, headers: dict[bytes, bytes], raw: bytes, send: Send, started: float
    ) -> bool:
        """Answer the request here, or False: the routes answer it."""
        raise NotImplementedError

    async def _failed(self, send: Send, exc: Exception, started: float) -> None:
        """What the error handlers answer for an exception: 503 when a dependency is away,
        else 500 with only the request id (the traceback goes to the log)."""
        if dependency_away(exc):
            log.warning("%s: a dependency is away: %s", self.name, exc)
            answer = unavailable_response()
        else:
            log.exception("%s: unhandled exception", self.name, exc_info=exc)
            answer = problem_response(
                status=500,
                code=ErrorCode.internal_error,
                title="Internal error",
                detail="Something went wrong on our side. Quote the request id when reporting it.",
            )
        rid = request_id_var.get() or new_request_id()
        body = bytes(answer.body)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [
                    *((k, v) for k, v in answer.raw_headers if k != b"content-length"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", rid.encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        HTTP_REQUESTS.labels("POST", self.path, str(answer.status_code)).inc()
        self.latency.observe(time.perf_counter() - started)

    async def _send(
        self,
        send: Send,
        status: int,
        media_type: bytes,
        body: bytes,
        rid: str,
        started: float,
        *,
        replayed: bool = False,
    ) -> None:
        """The answer, with what the request-context layer adds to every answer (the request
        id, the security headers), and counted as it counts."""
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", rid.encode()),
                    *((b"idempotent-replayed", b"true"),) * replayed,
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.answered[status].inc()
        self.latency.observe(time.perf_counter() - started)


class PurchaseLane(Front):
    name = "purchase lane"

    def __init__(self, app: ASGIApp, path: str, *, max_bytes: int, cors: bool) -> None:
        super().__init__(app, path, max_bytes=max_bytes, cors=cors, statuses=(201, 409))
        self.gate = idempotency.Gate()
        self.snapshots: dict[int, catalog.SaleSnapshot] = {}
        self.loading: dict[int, asyncio.Future[catalog.SaleSnapshot | None]] = {}
        self.buyers: dict[int, pricing.Buyer] = {}
        self.buyer_misses: list[tuple[int, asyncio.Future[pricing.Buyer | None]]] = []
        self.claim_from: dict[int, int] = {}  # SKU → the highest key id sold here (a hint)
        self.background: set[asyncio.Task[None]] = set()
        # group commit: a few batches in flight (a setting), so a burst never opens
        # overflow connections and the batches grow instead of multiplying
        self.batches: purchase.Batches | None = None

    async def _answer(
        self, scope: Scope, headers: dict[bytes, bytes], raw: bytes, send: Send, started: float
    ) -> bool:
        """Answer the request here, or False: the routes answer it."""
        req = _parse(headers, raw)
        if req is None:
            return False
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if SAFE_REQUEST_ID.match(incoming) else new_request_id()
        request_id_var.set(rid)
        gated = await self.gate.check(
            req.owner, SCOPE, req.key, req.digest, inventory.sold_out_key(req.body["sku_id"])
        )
        if gated in (idempotency.SOLD_OUT, idempotency.REFUSED_BEFORE):
            SOLD_OUT_AT_GATE.inc()
            replayed = gated == idempotency.REFUSED_BEFORE
            await self._send(
                send, 409, _PROBLEM, _sold_out_body(rid), rid, started, replayed=replayed
            )
            return True
        if gated == idempotency.REUSED:  # refused at the gate before, for another request
            return False  # the route answers idempotency_key_reused (it reads the marker)
        if not req.lane:
            return False
        answer = await self._buy(scope, req, rid)
        PURCHASE_LANE.labels(
            "handed_over" if answer is None else "sold_out" if answer is SOLD_OUT else "bought"
        ).inc()
        if answer is None:
            return False
        if answer is SOLD_OUT:  # told by the database
            await self._send(send, 409, _PROBLEM, _sold_out_body(rid), rid, started)
        else:
            await self._send(send, 201, b"application/json", answer, rid, started)
        return True

    # ---- the purchase ----------------------------------------------------------------------

    async def _buy(self, scope: Scope, req: _Parsed, rid: str) -> bytes | None:
        """The 201 body, ``SOLD_OUT``, or None: the route answers."""
        body = req.body
        client = scope.get("client")
        meta = RequestMeta(
            ip=client[0] if client else None, user_agent=req.user_agent, request_id=rid
        )
        ready = await self.prepare(
            req.owner, req.kind, meta, body["sku_id"], body["quantity"], body["buyer_input"]
        )
        if ready is None:
            return None
        out = await self.finish(
            ready,
            purchase.LaneChecks(
                buyer=ready.buyer,
                catalog_version=ready.catalog_version,
                session_id=req.session_id,
                idempotency_scope=SCOPE,
                idempotency_key=req.key,
                request_hash=req.digest,
                sold_out_answer=None if ready.upstream else _sold_out_body(rid).decode(),
            ),
        )
        if not isinstance(out, Bought):
            return out  # SOLD_OUT, or None
        return purchase.delivered(ready.order, out.result, out.keys)

    async def prepare(
        self,
        owner: int,
        kind: UserKind,
        meta: RequestMeta,
        sku_id: int,
        qty: int,
        raw_input: dict[str, Any],
    ) -> Ready | None:
        """The purchase as the route would price it, from the caches — or None when the lane
        cannot do it (not a card key on sale, a quantity or buyer input the route refuses,
        the buyer unknown or the database away …): the route answers. Nothing is written."""
        snap = await self._snapshot(sku_id)
        now = clock.now()
        if snap is None or not snap.sku.active or snap.product.delivery_type != "card_key":
            return None
        product, sku = snap.product, snap.sku
        if not catalog.is_on_sale(product, now) or not (product.min_qty <= qty <= product.max_qty):
            return None
        try:
            buyer_input = check_buyer_input(product.buyer_fields, raw_input)
        except AppError:
            return None
        try:
            buyer = self.buyers.get(owner)
            if buyer is None:
                buyer = await self._buyer(owner)
                if buyer is None:
                    return None
            # a SKU sourced upstream: an empty stock is not an answer here (the route buys)
            upstream = await sourcing.sourced_cached(sku.id)
            order = card_key_request(
                owner,
                kind,
                meta,
                sku,
                product,
                qty,
                pricing.quote(snap.prices, buyer, qty),
                buyer_input,
                claim_from=self.claim_from.get(sku.id, 0),
            )
        except AppError:
            return None  # e.g. bad_amount: the route explains
        except Exception:  # the database is away …: the route answers
            log.warning("purchase lane: handing over to the route", exc_info=True)
            return None
        return Ready(order, buyer, snap.version, upstream)

    async def finish(self, ready: Ready, checks: purchase.LaneChecks) -> Bought | bytes | None:
        """The purchase, in the next batch (``kameng_purchase_many``): what it bought,
        ``SOLD_OUT`` (the lane's stored answer), or None: refused or failed, nothing
        happened, the route answers."""
        order = ready.order
        try:
            if self.batches is None:
                settings = get_settings()
                self.batches = purchase.Batches(
                    settings.purchase_batches_in_flight, settings.purchase_batch_stretch_ms / 1000
                )
            out = await self.batches.submit(order.buyer_id, purchase.payload(order, checks))
        except Exception:  # the database is away, a pool timeout …: the route answers
            log.warning("purchase lane: handing over to the route", exc_info=True)
            return None
        if "error" in out:  # refused, or a surprise: nothing happened; the route answers
            no = purchase.refusal_of(out["error"], out.get("detail"))
            if no is None:
                log.warning("purchase lane: %s (%s)", out["error"], out.get("sqlstate"))
            else:
                await self._refused(no, order.sku_id, order.buyer_id)
            return None
        if out.get("refused") == "sold_out":
            await inventory.mark_sold_out(order.sku_id)  # the gate answers the next buyers
            return SOLD_OUT
        if out["keys"]:
            self.claim_from[order.sku_id] = max(
                self.claim_from.get(order.sku_id, 0), max(out["keys"])
            )
        if inventory.low_stock_due(order.sku_id):
            self.spawn(_check_low_stock(order.sku_id))
        keys = [
            DeliveredKeyOut(
                card_no=k["card_no"],
                secret=inventory.decrypt_secret_parts(
                    k["key_id"], _b64(k["ct"]), uuid.UUID(k["digest"]).bytes
                ),
            )
            for k in out["secrets"]
        ]
        return Bought(out, keys)

    async def _buyer(self, user_id: int) -> pricing.Buyer | None:
        """The buyer as pricing sees them (kept; the purchase checks it is still so). Misses
        that arrive together are read together (a sale's first second is all misses)."""
        future: asyncio.Future[pricing.Buyer | None] = asyncio.get_running_loop().create_future()
        self.buyer_misses.append((user_id, future))
        if len(self.buyer_misses) == 1:
            self.spawn(self._read_buyers())
        return await future

    async def _read_buyers(self) -> None:
        await asyncio.sleep(0)  # let the misses of this moment queue up
        misses, self.buyer_misses = self.buyer_misses, []
        try:
            async with db.get_engine().connect() as conn:
                pg = (await conn.get_raw_connection()).driver_connection
                assert pg is not None
                rows = await pg.fetch(catalog.BUYERS_SQL, sorted({u for u, _ in misses}))
        except Exception as exc:
            for _, future in misses:
                if not future.done():
                    future.set_exception(exc)
            return
        if len(self.buyers) + len(rows) >= _CACHE_MAX:
            self.buyers.clear()
        for row in rows:
            self.buyers[row["id"]] = pricing.Buyer(
                UserKind(row["kind"]), row["member_level"], row["reseller_tier"]
            )
        for user_id, future in misses:
            if not future.done():
                future.set_result(self.buyers.get(user_id))

    async def _refused(self, no: purchase.Refused, sku_id: int, owner: int) -> None:
        if no.code == "stale":  # prices or the buyer's level changed: read them again
            self.snapshots.pop(sku_id, None)
            self.buyers.pop(owner, None)
        elif (
            no.code == "sold_out" and no.detail == "0" and not await sourcing.sourced_cached(sku_id)
        ):
            await inventory.mark_sold_out(sku_id)

    async def _snapshot(self, sku_id: int) -> catalog.SaleSnapshot | None:
        snap = self.snapshots.get(sku_id)
        if snap is not None:
            return snap
        loading = self.loading.get(sku_id)
        if loading is not None:  # a burst of buyers waits for one read
            return await asyncio.shield(loading)
        future: asyncio.Future[catalog.SaleSnapshot | None] = (
            asyncio.get_running_loop().create_future()
        )
        self.loading[sku_id] = future
        try:
            async with db.unit_of_work() as session:
                snap = await catalog.sale_snapshot(session, sku_id)
            if snap is not None:
                if len(self.snapshots) >= _CACHE_MAX:
                    self.snapshots.clear()
                self.snapshots[sku_id] = snap
            future.set_result(snap)
        except Exception as exc:
            future.set_exception(exc)
            raise
        finally:
            del self.loading[sku_id]
        return snap

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run ``work`` after the answer (a failure is logged)."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.warning("purchase lane: after-commit work failed", exc_info=True)

        task = asyncio.create_task(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)


_PROBLEM = PROBLEM_JSON.encode()
SOLD_OUT = b"sold_out"  # _buy's answer when the database found no key
# the problem+json body, rendered once; only its request id differs between answers


def _sold_out_template() -> tuple[bytes, bytes]:
    token = request_id_var.set("REQUEST-ID")
    try:
        body = problem_response(
            status=409, code="sold_out", title="Sold out", detail="已售罄 (sold out)"
        ).body
    finally:
        request_id_var.reset(token)
    head, _, tail = bytes(body).partition(b"REQUEST-ID")
    return head, tail


_SOLD_OUT_PARTS = _sold_out_template()


def _sold_out_body(rid: str) -> bytes:
    return rid.encode().join(_SOLD_OUT_PARTS)


async def _check_low_stock(sku_id: int) -> None:
    async with db.unit_of_work() as session:
        await inventory.check_low_stock(session, [sku_id])


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _parse(headers: dict[bytes, bytes], raw: bytes) -> _Parsed | None:
    """The caller and the purchase, or None when the route must judge the request."""
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    key = headers.get(b"idempotency-key", b"").decode("latin-1")
    if scheme.lower() != "bearer" or not token or not 8 <= len(key) <= 128:
        return None
    if nul_in_json(raw) or any(b"\x00" in v for v in headers.values()):
        return None  # the NUL guard answers
    try:
        data: Any = json.loads(raw)
        if type(data) is not dict or type(data.get("sku_id")) is not int:
            return None
        if not 1 <= data["sku_id"] <= BIGINT_MAX:
            return None  # the route's validation answers
        if data.get("pay_method", "balance") != "balance":
            return None
        claims = security.decode_jwt(token.strip(), typ="access")
        owner = int(claims["sub"])
        kind = UserKind(claims.get("knd", "customer"))
        session_id = str(claims["sid"])
    except (ValueError, KeyError, TypeError, security.TokenError):
        return None  # the route answers whatever is wrong
    qty = data.get("quantity", 1)
    buyer_input = data.get("buyer_input", {})
    lane = (
        set(data) <= _FIELDS
        and type(qty) is int
        and 1 <= qty <= 10_000
        and type(buyer_input) is dict
        and len(buyer_input) <= 20
    )
    body = {"sku_id": data["sku_id"], "quantity": qty, "pay_method": "balance"}
    body["buyer_input"] = buyer_input
    return _Parsed(
        owner=owner,
        session_id=session_id,
        kind=kind,
        key=key,
        body=body,
        digest=idempotency.request_hash(body),
        user_agent=headers.get(b"user-agent", b"").decode("latin-1") or None,
        lane=lane,
    )
