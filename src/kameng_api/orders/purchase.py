"""A balance purchase of card keys in one database call: ``kameng_purchase(jsonb)``.

The function (``orders/sql/kameng_purchase.sql``) claims the keys with ``FOR UPDATE SKIP
LOCKED``, charges the wallet (one conditional update: never below zero; the entry and its
lines, booked once per order), records the order as delivered with its three timeline rows
and its keys, adds to one of the SKU's stock slots, and writes the notice job and the
operation-log entry — in one round trip instead of some twenty. A refusal raises and leaves
nothing behind in the caller's savepoint; ``Refused`` says which. What needs Python stays
here: the price (the pricing function), the buyer input, the order number, and the job's
relay.

Two callers: ``orders.placing`` (the route, inside its transaction: ``buy``) and the
purchase lane (``orders/lane.py``, through ``Batches``: many purchases per transaction, in
``kameng_purchase_many`` (``orders/sql/kameng_purchase_many.sql``), which does the common
case for the whole batch at once and calls ``kameng_purchase`` for the rest, and answers
each purchase with its order id, keys and the transaction's time: ``delivered``), which also
hands over what it read from its caches so the function can check them: the session, the
buyer's price level, the catalogue version, and the ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog.pricing import Buyer
from kameng_api.core import db
from kameng_api.core.actor import RequestMeta, UserKind
from kameng_api.core.metrics import OUTBOX_HELD, PURCHASE_BATCH
from kameng_api.orders.schemas import DeliveredKeyOut, OrderOut
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.purchase")

_CALL = text("SELECT kameng_purchase(CAST(:p AS jsonb))")
_PREFIX = "kameng:"
NOTIFY_TASK = "fulfilment:notify"  # the buyer's mail and in-app notice
LIMIT_LOCK = 0x6F72_6473  # pg_advisory_xact_lock(LIMIT_LOCK, hash) while checking a per-user limit


class Refused(Exception):
    """``code``: sold_out (``detail``: keys found), insufficient_balance, per_user_limit
    (``detail``: already bought); from the lane's checks also session, stale,
    idempotency_in_progress and replay."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Request:
    buyer_id: int
    buyer_kind: UserKind
    meta: RequestMeta
    order_no: str
    sku_id: int
    product_id: int
    product_name: str
    sku_name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    price_rule: str
    buyer_input: dict[str, str]
    expires_at: datetime
    looping: bool
    per_user_limit: int | None
    stock_slots: int
    claim_from: int = 0  # the last key id the caller saw sold of this SKU (a hint only)


@dataclass(frozen=True)
class LaneChecks:
    """What the lane took from its caches and the token, checked in the same statement."""

    session_id: str
    buyer: Buyer
    catalog_version: int
    idempotency_scope: str
    idempotency_key: str
    request_hash: str
    # none left: answered (409) and stored, not raised (JSON text); None for a SKU sourced
    # upstream (orders/sourcing.py): the refusal is raised and the route buys upstream
    sold_out_answer: str | None


def payload(req: Request, lane: LaneChecks | None = None) -> str:
    p: dict[str, Any] = {
        "buyer_id": req.buyer_id,
        "actor_kind": str(req.buyer_kind),
        "order_no": req.order_no,
        "sku_id": req.sku_id,
        "product_id": req.product_id,
        "product_name": req.product_name,
        "sku_name": req.sku_name,
        "quantity": req.quantity,
        "unit_price": format(req.unit_price, "f"),
        "total": format(req.total, "f"),
        "price_rule": req.price_rule,
        "buyer_input": req.buyer_input,
        "expires_at": req.expires_at.isoformat(),
        "looping": req.looping,
        "per_user_limit": req.per_user_limit,
        "limit_lock": LIMIT_LOCK,
        "stock_slots": req.stock_slots,
        "claim_from": req.claim_from,
        "memo": f"购买 {req.product_name}",
        "notify_task": NOTIFY_TASK,
        "ip": req.meta.ip,
        "user_agent": (req.meta.user_agent or "")[:512] or None,
        "request_id": req.meta.request_id,
    }
    if lane is not None:
        p.update(
            session_id=lane.session_id,
            buyer_kind=str(lane.buyer.kind),
            member_level=lane.buyer.member_level,
            reseller_tier=lane.buyer.reseller_tier,
            catalog_version=lane.catalog_version,
            idem={
                "scope": lane.idempotency_scope,
                "key": lane.idempotency_key,
                "hash": lane.request_hash,
            },
            with_secrets=True,
        )
        if lane.sold_out_answer is None:
            return json.dumps(p)
        # the stored sold-out answer goes in as it is (JSON already)
        return f'{json.dumps(p)[:-1]}, "sold_out_answer": {lane.sold_out_answer}}}'
    return json.dumps(p)


def delivered(req: Request, result: dict[str, Any], keys: list[DeliveredKeyOut]) -> bytes:
    """The answer to a lane purchase (the JSON of ``OrderOut``): the order as the function
    wrote it — from what was sent, with the id and the time it sent back (``order_id``,
    ``at``) — and its keys, as ``GET /orders/{order_no}`` shows it."""
    at = datetime.fromisoformat(result["at"]).astimezone(UTC)
    return (
        OrderOut(
            id=result["order_id"],
            order_no=req.order_no,
            status="delivered",
            product_id=req.product_id,
            sku_id=req.sku_id,
            product_name=req.product_name,
            sku_name=req.sku_name,
            delivery_type="card_key",
            quantity=req.quantity,
            unit_price=req.unit_price,
            total=req.total,
            price_rule=req.price_rule,
            pay_method="balance",
            buyer_input=req.buyer_input,
            delivered_qty=req.quantity,
            awaiting_stock=False,
            refunded_total=Decimal(0),
            created_at=at,
            expires_at=req.expires_at,
            paid_at=at,
            delivered_at=at,
            keys=keys,
        )
        .model_dump_json()
        .encode()
    )


async def buy(session: AsyncSession, req: Request) -> tuple[int, list[int]]:
    """In the caller's transaction: the order id and the key ids."""
    try:
        out = (await session.execute(_CALL, {"p": payload(req)})).scalar_one()
    except DBAPIError as exc:
        refused = refusal(exc.orig.__cause__ if exc.orig is not None else None)
        if refused is None:
            raise
        raise refused from None
    outbox.relay_after_commit(session, int(out["outbox_id"]), NOTIFY_TASK)
    session.info["audited"] = True  # the function wrote the operation-log entry
    return int(out["order"]["id"]), [int(k) for k in out["keys"]]


def refusal(error: BaseException | None) -> Refused | None:
    """The function's own refusal (``RAISE 'kameng:<code>' USING DETAIL``), else None."""
    return refusal_of(getattr(error, "message", ""), getattr(error, "detail", ""))


def refusal_of(message: str | None, detail: str | None) -> Refused | None:
    message = message or ""
    if not message.startswith(_PREFIX):
        return None
    return Refused(message.removeprefix(_PREFIX), detail or "")


# ---- group commit ---------------------------------------------------------------------------

MANY_SQL = "SELECT kameng_purchase_many(CAST($1 AS jsonb))::text"
BATCH_MAX = 64
ORDER_NO_UNIQUE = "uq_orders_order_no"  # orders.order_no's unique index (orders/models.py)
UNIQUE_VIOLATION = "23505"  # SQLSTATE


async def order_nos_taken(exc: BaseException, payloads: list[str]) -> set[str]:
    """The order numbers a batch failed on because an order (or another purchase of the
    batch) already had them — rare (``orders.placing.new_order_no``) — else an empty set.

    Read from what does not depend on the server's language: the SQLSTATE and the index's
    name on the error, then the numbers themselves — the batch's repeats, and those the
    orders table holds. PostgreSQL raises a unique violation only once the other order is
    committed, so a fresh statement finds it. The error's text (``Key (order_no)=…``, in
    the server's ``lc_messages``) is never read."""
    if (
        getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION
        or getattr(exc, "constraint_name", None) != ORDER_NO_UNIQUE
    ):
        return set()
    nos = [str(json.loads(p)["order_no"]) for p in payloads]
    taken = {no for no in nos if nos.count(no) > 1}
    try:
        async with db.get_engine().connect() as conn:
            pg = (await conn.get_raw_connection()).driver_connection
            assert pg is not None
            rows = await pg.fetch(
                "SELECT order_no FROM orders WHERE order_no = ANY($1::text[])", nos
            )
    except Exception as exc2:  # the database is away: the batch fails as a whole
        log.warning("purchase lane: taken order numbers not found: %r", exc2)
        return taken
    return taken | {str(r[0]) for r in rows}


class Batches:
    """Group commit for the lane: purchases that arrive while earlier batches run go to the
    database together — ``kameng_purchase_many``, one transaction and one WAL flush for up
    to ``BATCH_MAX`` buyers, done set-wise (one statement per table for the batch; one
    refusal does not fail the others). Nothing waits on a timer: alone, a purchase goes at
    once; under load the queue grows while ``max_active`` batches are in the database, and
    the next batch takes it all. When the batch in flight has run longer than ``stretch_s``
    (a commit waiting on the disk, a busy moment), one more batch takes those waiting, so a
    purchase is not held up by a slow batch it is not part of. The function locks a batch's
    wallets in id order, so concurrent batches never wait on each other in a circle."""

    def __init__(self, max_active: int, stretch_s: float = 0.015) -> None:
        self.max_active = max_active
        self.stretch_s = stretch_s
        self.active = 0
        self.queue: list[tuple[int, str, asyncio.Future[dict[str, Any]]]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.since = 0.0  # when the batch in flight went to the database
        self.extra = False  # one more batch is in flight because that one ran long
        # purchases made in this second and the one before; when the hold was last raised
        self.second_at, self.this_second, self.last_second = 0.0, 0, 0
        self.held_at = float("-inf")

    async def submit(self, buyer_id: int, payload: str) -> dict[str, Any]:
        """The purchase's result: the function's answer, or ``{"error": …, "detail": …}``.
        Raises when the whole batch failed (the database is away …)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.queue.append((buyer_id, payload, future))
        if self.active < self.max_active:
            self.active += 1
            self.since = loop.time()  # before the drain runs: the next arrival waits for it
            self._spawn(self._drain())
        elif not self.extra and loop.time() - self.since > self.stretch_s:
            self.extra = True  # the batch in flight runs long: those waiting go now
            self._spawn(self._one_more())
        return await future

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
                self.since = asyncio.get_running_loop().time()
                await self._run(sorted(batch, key=lambda b: b[0]))
        finally:
            self.active -= 1

    async def _one_more(self) -> None:
        try:
            batch, self.queue = self.queue[:BATCH_MAX], self.queue[BATCH_MAX:]
            if batch:
                await self._run(sorted(batch, key=lambda b: b[0]))
        finally:
            self.extra = False

    async def _run(self, batch: list[tuple[int, str, asyncio.Future[dict[str, Any]]]]) -> None:
        PURCHASE_BATCH.observe(len(batch))
        try:
            async with db.get_engine().connect() as conn:
                pg = (await conn.get_raw_connection()).driver_connection
                assert pg is not None
                raw = await pg.fetchval(MANY_SQL, "[" + ",".join(p for _, p, _ in batch) + "]")
            out = json.loads(raw, parse_float=Decimal)
            results = out["results"]
        except BaseException as exc:
            taken = await order_nos_taken(exc, [p for _, p, _ in batch])
            rest = [b for b in batch if json.loads(b[1])["order_no"] not in taken]
            if rest and len(rest) < len(batch):  # only the purchase with that number fails
                kept = {id(future) for _, _, future in rest}
                for _, _, future in batch:
                    if id(future) not in kept and not future.done():
                        future.set_exception(exc)
                await self._run(rest)
                return
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                result["at"] = out["at"]  # the transaction's time: the orders' times
                future.set_result(result)
        if out["outbox_id"] is None:
            return
        # the batch's one notice job, committed: push it — unless the sale is hot, when it
        # waits for the sweeper until the sale cools (its task is holdable: fulfilment/tasks.py)
        if self._hot(sum(1 for r in results if "order_id" in r)):
            OUTBOX_HELD.inc()
            now = asyncio.get_running_loop().time()
            if now - self.held_at >= outbox.HOLD_TTL_S / 4:  # keep the flag up
                self.held_at = now
                self._spawn(outbox.hold())
        else:
            self._spawn(
                outbox.relay([(int(out["outbox_id"]), out["task"], None)], via="after_commit")
            )

    def _hot(self, bought: int) -> bool:
        """Whether the sale is hot: ``notice_hold_rate`` purchases or more made here in this
        second or the one before (0: never)."""
        rate = get_settings().notice_hold_rate
        if not rate:
            return False
        now = asyncio.get_running_loop().time()
        if now - self.second_at >= 1.0:
            self.last_second = self.this_second if now - self.second_at < 2.0 else 0
            self.second_at, self.this_second = now, 0
        self.this_second += bought
        return max(self.this_second, self.last_second) >= rate
