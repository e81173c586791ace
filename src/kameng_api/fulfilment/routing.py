"""A direct recharge through the upstream suppliers: routing, failover, circuit breaking,
polling and callbacks — built to be repeated (the job runs at least once).

Card keys of an empty card-key SKU sourced upstream (``orders/sourcing.py``) go the same way
as a card order (``kind="card"``, mapped suppliers only); the supplier's cards are stored as
keys of our SKU (``inventory/upstream.py``) and delivered in the transaction that settles the
row (``_deliver_cards``); a success without cards counts as that supplier failing; a success
notice (no cards in it) queues a job that queries for them.

One run of ``fulfilment:deliver`` for an order ``delivering``:

1. the order's upstream rows of this delivery attempt are read. A row not settled
   (``submitted`` / ``processing`` / ``unknown``) is ASKED about first (``query``); only a
   supplier that says it never heard of it gets the same request again (same request id:
   the supplier dedupes), and only a supplier whose circuit is open and who denied it for
   ``KAMENG_SUPPLIER_NOT_FOUND_GRACE_S`` is given up for the next one;
2. otherwise the next route (``suppliers.routes``: mappings by priority, enabled suppliers)
   not yet tried whose circuit lets us call is taken: in a transaction of its own, under the
   order's row lock, ``orders.upstream_started_at`` is set (once) and an ``upstream_orders``
   row is recorded — committed BEFORE the call, so a worker killed during the call leaves a
   row that the re-run queries (never orders twice);
3. the answer: ``success`` → the order is delivered (row and order in one transaction, under
   the order's lock); ``processing`` → asked again later (a delayed outbox row, backing off);
   ``failed`` → the row fails and the next route is tried in the same run; the call never left
   (connect refused) → the row fails as ``never_reached`` and the next route is tried, this one
   may be asked again on a later run; no usable answer (timeout, 5xx) → the row is ``unknown``
   and the job retries (the retry queries);
4. every route answered ``failed`` → the order fails, the buyer is refunded to the balance,
   and an alert row is raised. Routes skipped for open circuits or unreachable suppliers make
   the job retry later instead — until ``KAMENG_STUCK_ORDER_S`` after the first upstream call:
   then, with nothing pending at any supplier, the order is refunded as well.

Supplier callbacks (:func:`accept_notice`) settle the same rows, bound to the supplier that
sent them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts import service as alerts
from kameng_api.core.clock import clock
from kameng_api.core.db import unit_of_work
from kameng_api.inventory import upstream as bought_keys
from kameng_api.orders import service as orders
from kameng_api.orders.models import Order
from kameng_api.outbox import service as outbox
from kameng_api.settings import get_settings
from kameng_api.suppliers import breaker
from kameng_api.suppliers import service as suppliers
from kameng_api.suppliers.adapter import (
    CallbackNotice,
    RechargeRequest,
    RechargeResult,
    SupplierUnavailable,
    SupplierUnreachable,
)
from kameng_api.suppliers.models import ACTIVE_STATES, Supplier, UpstreamOrder

log = logging.getLogger("kameng.fulfilment.routing")

ALL_FAILED = "supplier_all_failed"
UNKNOWN_FATE = "supplier_order_unknown"


@dataclass
class _Call:
    result: RechargeResult | None  # None: the supplier never heard of it (a query)
    latency_ms: int


async def _ask(
    sup: Supplier, row: UpstreamOrder, request: RechargeRequest | None, probe: bool
) -> _Call:
    """One call (submit when ``request`` is given, else query), counted by the breaker."""
    adapter = suppliers.adapter_for(sup)
    t0 = time.monotonic()
    try:
        result = await (adapter.submit(request) if request else adapter.query(row.request_id))
    except SupplierUnavailable:
        await breaker.record(sup.id, False, probe=probe)
        raise
    await breaker.record(sup.id, True, probe=probe)
    return _Call(result, int((time.monotonic() - t0) * 1000))


async def _save(row_id: int, **values: object) -> None:
    """An upstream row's interim state, committed at once (it must survive a crash); a row
    settled meanwhile (a callback) is left alone."""
    async with unit_of_work() as s:
        row = await s.get(UpstreamOrder, row_id, with_for_update=True)
        if row is None or row.state in ("success", "failed"):
            return
        for k, v in values.items():
            setattr(row, k, v)
        row.calls += 1
        if row.state == "failed":
            row.finished_at = clock.now()
        err = values.get("last_error")
        sup = await s.get(Supplier, row.supplier_id)
        if sup is not None and isinstance(err, str) and not err.startswith("failed"):
            sup.last_error, sup.last_error_at = err[:255], clock.now()


async def _prepare(order_id: int, attempt: int, route: suppliers.Route) -> int | None:
    """Record the upstream row (and ``upstream_started_at``) before the call, committed under
    the order's lock; None when the order moved on meanwhile, 0 when the row exists already
    (a concurrent run made it)."""
    async with unit_of_work() as s:
        order = await s.get(Order, order_id, with_for_update=True)
        if order is None or order.status != "delivering" or order.delivery_attempt != attempt:
            return None
        if order.upstream_started_at is None:
            order.upstream_started_at = clock.now()
        rid = suppliers.request_id(order.order_no, attempt, route.supplier.id)
        stmt = (
            insert(UpstreamOrder)
            .values(
                order_id=order.id,
                supplier_id=route.supplier.id,
                mapping_id=route.mapping.id if route.mapping else None,
                delivery_attempt=attempt,
                request_id=rid,
                supplier_product_id=route.product_id,
                cost=route.cost,
                state="submitted",
            )
            .on_conflict_do_update(  # only a row that never reached its supplier is reused
                index_elements=["supplier_id", "request_id"],
                set_={"state": "submitted", "never_reached": False, "finished_at": None},
                where=UpstreamOrder.never_reached.is_(True),
            )
            .returning(UpstreamOrder.id)
        )
        row_id = (await s.execute(stmt)).scalar_one_or_none()
        return 0 if row_id is None else int(row_id)


def _given_up(order: Order) -> bool:
    started = order.upstream_started_at
    limit = timedelta(seconds=get_settings().stuck_order_s)
    return started is not None and clock.now() - started > limit


def _cards(order: Order) -> bool:
    """A card-key order bought upstream (its SKU's stock was empty), not a direct recharge."""
    return order.delivery_type == "card_key"


def _request(order: Order, row: UpstreamOrder) -> RechargeRequest:
    return RechargeRequest(
        request_id=row.request_id,
        product=row.supplier_product_id,
        sku=order.sku_name,
        quantity=order.quantity,
        account={k: str(v) for k, v in order.buyer_input.items()},
        kind="card" if _cards(order) else "direct",
    )


async def _rows(session: AsyncSession, order_id: int, attempt: int) -> list[UpstreamOrder]:
    q = (
        select(UpstreamOrder)
        .where(UpstreamOrder.order_id == order_id, UpstreamOrder.delivery_attempt == attempt)
        .order_by(UpstreamOrder.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(q)).scalars())


async def deliver(session: AsyncSession, order_id: int) -> str:
    order = await session.get(Order, order_id)
    if (
        order is None
        or order.status != "delivering"
        or order.delivery_type not in ("direct_recharge", "card_key")
    ):
        return "nothing to do"
    attempt = order.delivery_attempt
    if get_settings().recharge_supplier_url and not _cards(order):
        await _sync_settings_supplier()
    candidates = await suppliers.routes(
        session, order.sku_id, order.sku_name, mapped_only=_cards(order)
    )
    skipped = False  # a route left for later (an open circuit)
    unreached: set[int] = set()  # suppliers that could not be reached in this run

    for _ in range(2 * len(candidates) + 2):
        rows = await _rows(session, order.id, attempt)
        active = next((r for r in rows if r.state in ACTIVE_STATES), None)
        if active is not None:
            sup = await session.get(Supplier, active.supplier_id)
            assert sup is not None
            outcome = await _follow(session, order, sup, active)
            if outcome != "again":
                return outcome
            continue
        done = {r.supplier_id for r in rows if r.state == "failed" and not r.never_reached}
        route, probe = None, False
        for r in candidates:
            if r.supplier.id in done or r.supplier.id in unreached:
                continue
            circuit = await breaker.allow(r.supplier.id)
            if circuit is None:
                skipped = True
                continue
            route, probe = r, circuit == "half_open"
            break
        if route is None:
            # nothing is pending anywhere (no active row): when the rest were only skipped
            # (open circuit) or unreachable, wait — unless that has lasted past the stuck
            # limit: then nothing was ordered anywhere and the buyer gets the money back
            waiting = skipped or unreached or any(r.never_reached for r in rows)
            if waiting and not _given_up(order):
                raise SupplierUnavailable(
                    "no supplier can be asked now (open circuits or unreachable); later"
                )
            return await _all_failed(session, order, attempt, rows)
        row_id = await _prepare(order.id, attempt, route)
        if row_id is None:
            return "settled meanwhile"
        if row_id == 0:
            continue  # another run holds that row: read again (it is active or settled)
        row = await session.get(UpstreamOrder, row_id, populate_existing=True)
        assert row is not None
        try:
            call = await _ask(route.supplier, row, _request(order, row), probe)
        except SupplierUnreachable as exc:
            await _save(row_id, state="failed", never_reached=True, last_error=f"{exc}"[:255])
            unreached.add(route.supplier.id)
            continue
        except SupplierUnavailable as exc:
            await _save(row_id, state="unknown", last_error=f"{exc}"[:255])
            raise
        outcome = await _settle(session, order, route.supplier, row_id, call, submitted=True)
        if outcome != "again":
            return outcome
    raise SupplierUnavailable("too many hand-overs in one run; later")


async def _follow(session: AsyncSession, order: Order, sup: Supplier, row: UpstreamOrder) -> str:
    """Ask about a row not settled; resubmit the same request when the supplier never heard
    of it; give it up (for the next route) only when that cannot double an order."""
    circuit = await breaker.allow(sup.id)
    if circuit is None:
        await _alert_if_long_unknown(order, sup, row)
        raise SupplierUnavailable(f"supplier {sup.id}: circuit open, order {row.request_id} open")
    probe = circuit == "half_open"
    try:
        call = await _ask(sup, row, None, probe)
    except SupplierUnavailable as exc:
        await _save(row.id, last_error=f"query: {exc}"[:255])
        await _alert_if_long_unknown(order, sup, row)
        raise
    if call.result is not None:
        return await _settle(session, order, sup, row.id, call, submitted=False)
    # the supplier never heard of it: order it again under the same request id (the
    # supplier dedupes by it, so a first request still on its way cannot make a second order)
    # A resend that cannot connect does NOT make the row "never reached": the first request
    # may still land at the supplier, so the row stays unknown and is asked about again.
    try:
        call = await _ask(sup, row, _request(order, row), False)
    except SupplierUnavailable as exc:
        await _save(row.id, state="unknown", last_error=f"{exc}"[:255])
        raise
    return await _settle(session, order, sup, row.id, call, submitted=True)


async def _alert_if_long_unknown(order: Order, sup: Supplier, row: UpstreamOrder) -> None:
    """An upstream order whose fate we cannot learn (the supplier does not answer) for longer
    than the stuck limit: it is never handed to another supplier by itself — staff are told
    (an alert row, its own transaction: the job then retries)."""
    if (clock.now() - row.created_at).total_seconds() <= get_settings().stuck_order_s:
        return
    async with unit_of_work() as s:
        await alerts.raise_alert(
            s,
            UNKNOWN_FATE,
            f"upstream:{row.id}",
            f"订单 {order.order_no} 在上游 {sup.name} 的结果未知（上游无应答）",
            detail={"order_no": order.order_no, "request_id": row.request_id},
        )


async def _settle(
    session: AsyncSession,
    order: Order,
    sup: Supplier,
    row_id: int,
    call: _Call,
    *,
    submitted: bool,
) -> str:
    """Record an answer: the row and the order together, under the order's lock."""
    result = call.result
    assert result is not None
    if result.state == "success" and _cards(order) and not result.cards:
        # a card order answered "success" without a single card: nothing to deliver, so it
        # counts as this supplier failing (the next one is asked)
        result = RechargeResult("failed", result.ref, "success without cards", result.cost)
    if result.state == "failed":
        await _save(
            row_id,
            state="failed",
            supplier_ref=result.ref or None,
            last_error=f"failed: {result.message}"[:255],
            **({"latency_ms": call.latency_ms} if submitted else {}),
        )
        return "again"
    await session.refresh(order, with_for_update=True)
    row = await session.get(UpstreamOrder, row_id, with_for_update=True, populate_existing=True)
    assert row is not None
    row.calls += 1
    if submitted:
        row.latency_ms = call.latency_ms
    if result.ref:
        row.supplier_ref = result.ref
    if result.cost is not None:
        row.cost = result.cost
    if row.state in ("success", "failed"):
        return "settled meanwhile"
    if order.status != "delivering" or order.delivery_attempt != row.delivery_attempt:
        row.state = result.state if result.state == "success" else row.state
        return "settled meanwhile"
    if result.state == "success":
        row.state, row.finished_at = "success", clock.now()
        if _cards(order):
            await _deliver_cards(session, order, sup, row, result)
        else:
            await orders.recharge_succeeded(session, order, result.ref)
        return "success"
    row.state = "processing"
    await orders.recharge_processing(session, order, result.ref)
    poll = get_settings().recharge_poll_s
    delay = min(poll * 2 ** min(max(row.calls - 1, 0), 5), 600)
    await outbox.enqueue(
        session,
        orders.DELIVER_TASK,
        {"order_id": order.id, "query_first": True},
        delay=timedelta(seconds=delay),
    )
    return "processing"


async def _deliver_cards(
    session: AsyncSession, order: Order, sup: Supplier, row: UpstreamOrder, result: RechargeResult
) -> None:
    """The supplier's cards for a card-key order: stored as keys of our SKU (encrypted, like
    an import), linked to the order and delivered — exactly once: the caller holds the order's
    and the row's locks and saw the order still ``delivering`` in this attempt and the row not
    settled (a second run, poll or callback then finds it settled)."""
    cards = result.cards[: order.quantity]
    unit_cost = row.cost if row.mapping_id is not None else None
    if result.cost is not None and cards:
        unit_cost = (result.cost / len(cards)).quantize(Decimal("0.0001"))
    keys = await bought_keys.store_bought_keys(
        session,
        sku_id=order.sku_id,
        product_id=order.product_id,
        order_id=order.id,
        origin=f"upstream:{sup.name}",
        cards=[(c.card_no, c.secret) for c in cards],
        unit_cost=unit_cost,
    )
    if not keys:  # every card was one we already hold: nothing new to give
        row.state, row.last_error = "failed", "failed: cards already in stock"
        await orders.delivery_failed(session, order, "上游返回的卡密均已在库中 (duplicate cards)")
        return
    await orders.upstream_keys_delivered(session, order, keys, result.ref)


async def _all_failed(
    session: AsyncSession, order: Order, attempt: int, rows: list[UpstreamOrder]
) -> str:
    await session.refresh(order, with_for_update=True)
    if order.status != "delivering" or order.delivery_attempt != attempt:
        return "settled meanwhile"
    last = next((r.last_error for r in reversed(rows) if r.last_error), "") or ""
    await orders.delivery_failed(session, order, f"上游充值失败 {last}".strip()[:255])
    await alerts.raise_alert(
        session,
        ALL_FAILED,
        f"order:{order.order_no}",
        f"订单 {order.order_no} 所有上游均失败，已退款",
        detail={"order_no": order.order_no, "tried": [r.supplier_id for r in rows]},
    )
    return "failed"


async def _sync_settings_supplier() -> None:
    """The settings supplier's row, up to date (its own short transaction; only writes when a
    setting changed)."""
    async with unit_of_work() as s:
        await suppliers.sync_settings_supplier(s)


# ---- callbacks ----------------------------------------------------------------------------


async def accept_notice(session: AsyncSession, sup: Supplier, notice: CallbackNotice) -> str:
    """A supplier's signed notice about one of OUR orders AT THAT SUPPLIER. A notice naming a
    request id this supplier was never sent changes nothing (``unknown``), nor does one about
    a row already settled (a replay)."""
    row = await suppliers.find_upstream(session, sup.id, notice.request_id)
    if row is None:
        return "unknown"
    order = await session.get(Order, row.order_id, with_for_update=True)
    await session.refresh(row, with_for_update=True)
    if order is None or row.state in ("success", "failed"):
        return "settled"
    if order.status != "delivering" or order.delivery_attempt != row.delivery_attempt:
        return "settled"
    if notice.ref:
        row.supplier_ref = notice.ref
    if notice.state == "success" and _cards(order):
        # a notice carries no cards: the job asks the supplier for them (a query), and
        # whichever of it and a running poll settles the row first delivers, once
        row.state = "processing"
        await outbox.enqueue(session, orders.DELIVER_TASK, {"order_id": order.id})
        return "processing"
    if notice.state == "success":
        row.state, row.finished_at = "success", clock.now()
        await orders.recharge_succeeded(session, order, notice.ref or row.supplier_ref or "")
        return "success"
    if notice.state == "failed":
        row.state, row.finished_at = "failed", clock.now()
        row.last_error = f"failed (callback): {notice.message}"[:255]
        await outbox.enqueue(session, orders.DELIVER_TASK, {"order_id": order.id})
        return "failed"
    row.state = "processing"
    return "processing"
