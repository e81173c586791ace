"""Signed callbacks to resellers: an order placed through the open API (it has an
``open_orders`` row) that reaches a terminal state is told to the reseller by a POST signed per
Standard Webhooks.

**Events**: ``order.delivered``, ``order.partially_delivered``, ``order.failed``,
``order.refunded`` (fully refunded), ``order.cancelled`` (cancelled by the reseller), and
``ping`` (a test the reseller asks for). One row per (order, event), unique: an event is
queued exactly once however often the code that notices it runs.

**Where events come from** (``order_event`` is the one entry point; callers pass the event):

- ``orders.timeline.move`` — every step-by-step change to a terminal status (direct recharge
  and manual deliveries, failures, refunds) calls ``order_event`` in the transaction that
  changes the status. For an order without an ``open_orders`` row that costs one primary-key
  lookup, and nothing else.
- the ``fulfilment:notify`` job, written in the same transaction as every delivered or failed
  order (also by the SQL purchase functions, which never go through ``move``, and before the
  open API writes its ``open_orders`` row), calls ``orders_settled`` for its orders: one
  query finds the open-API ones among them (none for a shop purchase). It runs at least once;
  the unique index makes it exactly once.
- the open API's cancel calls ``order_event(session, order_id, "order.cancelled")``.

**The payload** (the body, signed and sent as is on every attempt)::

    {"type": "order.delivered", "timestamp": "2026-12-07T22:51:03.123456Z",
     "data": {"order_no": "…", "out_trade_no": "…", "status": "delivered",
              "product_name": "…", "sku_name": "…", "quantity": 2, "delivered_qty": 2,
              "unit_price": "12.5000", "total": "25.0000", "refunded_total": "0.0000",
              "created_at": "…", "paid_at": "…", "delivered_at": "…"}}

Money is a string, times are RFC 3339 UTC. **No card secrets, ever**: the payload rests in
our database and crosses the network to a URL the reseller typed; the keys are fetched with
the signed order query of the open API.

**Delivery** (``send``, the ``resellers:callback_send`` outbox job): under the row's lock, only
while the callback is ``pending`` and the job is the one the row names (``job_outbox_id``): a
POST through ``core.outbound.request`` (SSRF guard, no redirects, ``KAMENG_CALLBACK_TIMEOUT_S``)
with ``webhook-id`` (the row's ``msg_…``, the same on every attempt), ``webhook-timestamp``
and ``webhook-signature``. Any 2xx is success. Otherwise the attempt is logged and the next is
a delayed outbox row after ``KAMENG_CALLBACK_RETRY_S[n]``; once they are used up the callback
is ``failed``. A URL the guard refuses is logged and given up at once (nothing is sent). A
worker killed mid-call leaves the row ``pending`` and the job is run again: the receiver may
then see one webhook id twice (Standard Webhooks receivers de-duplicate by it), but a
callback recorded ``delivered`` is never sent again except by an explicit resend.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api import __version__
from kameng_api.audit import service as audit
from kameng_api.core import db, outbound
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import Conflict, NotFound
from kameng_api.orders.models import Order
from kameng_api.outbox import service as outbox
from kameng_api.resellers.accounts import ensure_account, webhook_secret
from kameng_api.resellers.callback_models import (
    EXCERPT_MAX,
    ResellerCallback,
    ResellerCallbackAttempt,
)
from kameng_api.resellers.models import OpenOrder, ResellerAccount
from kameng_api.resellers.signing import webhook_signature
from kameng_api.settings import get_settings

CALLBACK_TASK = "resellers:callback_send"
USER_AGENT = f"kameng-callbacks/{__version__}"
# an order's terminal status → the event it is told as
EVENT_OF_STATUS = {
    "delivered": "order.delivered",
    "partially_delivered": "order.partially_delivered",
    "failed": "order.failed",
    "refunded": "order.refunded",
}
ORDER_EVENTS = (*EVENT_OF_STATUS.values(), "order.cancelled")
ANSWER_CAP = 64 * 1024  # bytes of a receiver's answer we read (the log keeps 500 characters)


def _not_found() -> NotFound:
    return NotFound("回调不存在 (no such callback)", code="callback_not_found")


def _url_missing() -> Conflict:
    return Conflict("先设置回调地址 (set a callback URL first)", code="callback_url_missing")


def new_webhook_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _ts(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_data(order: Order, out_trade_no: str) -> dict[str, Any]:
    """The order as the reseller sees it in a callback: no card secrets, no buyer input."""
    return {
        "order_no": order.order_no,
        "out_trade_no": out_trade_no,
        "status": order.status,
        "product_name": order.product_name,
        "sku_name": order.sku_name,
        "quantity": order.quantity,
        "delivered_qty": order.delivered_qty,
        "unit_price": format(order.unit_price, "f"),
        "total": format(order.total, "f"),
        "refunded_total": format(order.refunded_total, "f"),
        "created_at": _ts(order.created_at),
        "paid_at": _ts(order.paid_at),
        "delivered_at": _ts(order.delivered_at),
    }


# ---- events ------------------------------------------------------------------------------


async def order_event(
    session: AsyncSession, order_id: int, event: str, *, order: Order | None = None
) -> ResellerCallback | None:
    """Queue the callback ``event`` for the order, in the caller's transaction, if the order
    came through the open API; once per (order, event) however often it is called. Returns the
    new row (``pending``, or ``skipped`` when the reseller has no callback URL), or None (not
    an open-API order, or the event was already queued). ``order``: the caller's loaded row,
    to build the payload from (else it is read)."""
    if event not in ORDER_EVENTS:
        raise ValueError(f"unknown callback event {event!r}")
    with session.no_autoflush:  # a cheap look: leave the caller's pending changes alone
        found = (
            await session.execute(
                select(OpenOrder.user_id, OpenOrder.out_trade_no, OpenOrder.callback_url).where(
                    OpenOrder.order_id == order_id
                )
            )
        ).one_or_none()
    if found is None:
        return None
    if order is None:
        order = (await session.execute(select(Order).where(Order.id == order_id))).scalar_one()
    account = await ensure_account(session, found.user_id)
    return await _create(
        session,
        user_id=found.user_id,
        event=event,
        url=found.callback_url or account.callback_url,
        data=order_data(order, found.out_trade_no),
        order_id=order_id,
        order_no=order.order_no,
        out_trade_no=found.out_trade_no,
    )


async def orders_settled(session: AsyncSession, order_ids: list[int]) -> int:
    """Queue the event of each open-API order's current terminal status (from the notice job:
    delivered or failed orders, any of them made by the SQL purchase functions). One query
    finds the open-API orders among them (none for a shop purchase). Returns how many
    callbacks were new."""
    if not order_ids:
        return 0
    rows = (
        await session.execute(
            select(Order, OpenOrder.user_id, OpenOrder.out_trade_no, OpenOrder.callback_url)
            .join(OpenOrder, OpenOrder.order_id == Order.id)
            .where(Order.id.in_(order_ids), Order.status.in_(list(EVENT_OF_STATUS)))
            .order_by(Order.id)
        )
    ).all()
    made = 0
    urls: dict[int, str | None] = {}  # reseller → the account's callback URL
    for order, user_id, out_trade_no, override in rows:
        if user_id not in urls:
            urls[user_id] = (await ensure_account(session, user_id)).callback_url
        cb = await _create(
            session,
            user_id=user_id,
            event=EVENT_OF_STATUS[order.status],
            url=override or urls[user_id],
            data=order_data(order, out_trade_no),
            order_id=order.id,
            order_no=order.order_no,
            out_trade_no=out_trade_no,
        )
        made += cb is not None
    return made


async def orders_settled_apart(order_ids: list[int]) -> int:
    """``orders_settled`` in a transaction of its own (committed before the notice's mail is
    tried: a mail server away must not hold the reseller's callback back)."""
    async with db.unit_of_work() as session:
        return await orders_settled(session, order_ids)


async def _create(
    session: AsyncSession,
    *,
    user_id: int,
    event: str,
    url: str | None,
    data: dict[str, Any],
    order_id: int | None = None,
    order_no: str | None = None,
    out_trade_no: str | None = None,
) -> ResellerCallback | None:
    now = clock.now()
    stmt = insert(ResellerCallback).values(
        user_id=user_id,
        order_id=order_id,
        order_no=order_no,
        out_trade_no=out_trade_no,
        event=event,
        webhook_id=new_webhook_id(),
        url=url,
        payload={"type": event, "timestamp": _ts(now), "data": data},
        status="pending" if url else "skipped",
        next_attempt_at=now if url else None,
        created_at=now,
        updated_at=now,
        last_error=None if url else "no callback URL set",
    )
    if order_id is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["order_id", "event"])
    cb = (
        await session.execute(
            stmt.returning(ResellerCallback).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if cb is None:
        return None
    if url:
        msg = await outbox.enqueue(session, CALLBACK_TASK, {"callback_id": cb.id})
        cb.job_outbox_id = msg.id  # written with the caller's next flush (or commit)
    return cb


async def ping(session: AsyncSession, actor: Actor) -> ResellerCallback:
    """A test callback (event ``ping``) to the reseller's callback URL: one attempt, logged
    like any other (no retries)."""
    account = await ensure_account(session, actor.user_id)
    if not account.callback_url:
        raise _url_missing()
    cb = await _create(
        session,
        user_id=actor.user_id,
        event="ping",
        url=account.callback_url,
        data={"message": "kameng test callback", "user_id": actor.user_id},
    )
    if cb is None:  # pragma: no cover - a ping has no (order, event) to collide on
        raise RuntimeError("ping callback not created")
    await audit.record(
        session,
        "resellers.callback_ping",
        actor=actor,
        target_type="reseller_callback",
        target_id=cb.id,
        after={"webhook_id": cb.webhook_id, "url": cb.url},
    )
    return cb


# ---- delivery ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    give_up: bool  # the URL is refused: retrying cannot help

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(secret: str, webhook_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(secret, webhook_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def body_of(cb: ResellerCallback) -> bytes:
    return json.dumps(cb.payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _post(url: str, headers: dict[str, str], body: bytes) -> Outcome:
    t0 = time.monotonic()
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    give_up = False
    try:
        answer = await outbound.request(
            "POST",
            url,
            headers=headers,
            content=body,
            timeout_s=get_settings().callback_timeout_s,
            max_bytes=ANSWER_CAP,
        )
        status_code = answer.status_code
        excerpt = answer.text[:EXCERPT_MAX]
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except outbound.OutboundRefused as exc:
        error = f"{exc.code}: {exc.detail or exc}"
        give_up = True
    except outbound.OutboundFailed as exc:
        error = f"{exc.code}: {exc.detail or exc}"
    latency_ms = int((time.monotonic() - t0) * 1000)
    return Outcome(status_code, latency_ms, excerpt, error and error[:EXCERPT_MAX], give_up)


async def send(session: AsyncSession, callback_id: int, outbox_id: int, trigger: str) -> str:
    """One attempt of the callback, if it is still ``pending`` and this job is the one the row
    names; logs it and schedules the next or ends it. Returns what happened (for logs)."""
    cb = (
        await session.execute(
            select(ResellerCallback).where(ResellerCallback.id == callback_id).with_for_update()
        )
    ).scalar_one_or_none()
    if cb is None or cb.status != "pending" or cb.job_outbox_id != outbox_id or not cb.url:
        return "stale"
    # the account row was made with the callback (ensure_account); a plain read here
    account = await session.get(ResellerAccount, cb.user_id) or await ensure_account(
        session, cb.user_id
    )
    body = body_of(cb)
    started = clock.now()
    headers = signed_headers(webhook_secret(account), cb.webhook_id, body, int(started.timestamp()))
    out = await _post(cb.url, headers, body)
    now = clock.now()
    cb.attempts += 1
    session.add(
        ResellerCallbackAttempt(
            callback_id=cb.id,
            attempt_no=cb.attempts,
            trigger=trigger,
            url=cb.url,
            started_at=started,
            status_code=out.status_code,
            latency_ms=out.latency_ms,
            response_excerpt=out.excerpt,
            error=out.error,
        )
    )
    cb.last_attempt_at = started
    cb.last_status_code = out.status_code
    cb.last_latency_ms = out.latency_ms
    cb.last_response_excerpt = out.excerpt
    cb.last_error = out.error
    cb.updated_at = now
    if out.ok:
        cb.status = "delivered"
        cb.delivered_at = now
        cb.next_attempt_at = None
        cb.job_outbox_id = None
        return "delivered"
    cb.round_failures += 1
    schedule = get_settings().callback_retry_schedule
    if out.give_up or cb.event == "ping" or cb.round_failures > len(schedule):
        cb.status = "failed"
        cb.next_attempt_at = None
        cb.job_outbox_id = None
        return "failed"
    delay = timedelta(seconds=schedule[cb.round_failures - 1])
    msg = await outbox.enqueue(session, CALLBACK_TASK, {"callback_id": cb.id}, delay=delay)
    cb.job_outbox_id = msg.id
    cb.next_attempt_at = now + delay
    return "retry"


# ---- the log: reading and resending ------------------------------------------------------


@dataclass(frozen=True)
class CallbackFilter:
    user_id: int | None = None
    status: str | None = None
    event: str | None = None
    order_no: str | None = None
    out_trade_no: str | None = None


async def list_callbacks(
    session: AsyncSession, f: CallbackFilter, *, before: int | None, limit: int
) -> list[ResellerCallback]:
    q = select(ResellerCallback).order_by(ResellerCallback.id.desc()).limit(limit)
    if f.user_id is not None:
        q = q.where(ResellerCallback.user_id == f.user_id)
    if f.status is not None:
        q = q.where(ResellerCallback.status == f.status)
    if f.event is not None:
        q = q.where(ResellerCallback.event == f.event)
    if f.order_no is not None:
        q = q.where(ResellerCallback.order_no == f.order_no)
    if f.out_trade_no is not None:
        q = q.where(ResellerCallback.out_trade_no == f.out_trade_no)
    if before is not None:
        q = q.where(ResellerCallback.id < before)
    return list((await session.execute(q)).scalars())


async def get_callback(
    session: AsyncSession, callback_id: int, *, owner_id: int | None, lock: bool = False
) -> ResellerCallback:
    """One callback; ``owner_id``: only the reseller's own (another's is not found)."""
    q = select(ResellerCallback).where(ResellerCallback.id == callback_id)
    if owner_id is not None:
        q = q.where(ResellerCallback.user_id == owner_id)
    if lock:
        q = q.with_for_update()
    cb = (await session.execute(q)).scalar_one_or_none()
    if cb is None:
        raise _not_found()
    return cb


async def attempts_of(session: AsyncSession, callback_id: int) -> list[ResellerCallbackAttempt]:
    q = (
        select(ResellerCallbackAttempt)
        .where(ResellerCallbackAttempt.callback_id == callback_id)
        .order_by(ResellerCallbackAttempt.id)
    )
    return list((await session.execute(q)).scalars())


async def _current_url(session: AsyncSession, cb: ResellerCallback) -> str | None:
    """Where the callback goes now: the order's override, else the account's URL."""
    override = None
    if cb.order_id is not None:
        override = (
            await session.execute(
                select(OpenOrder.callback_url).where(OpenOrder.order_id == cb.order_id)
            )
        ).scalar_one_or_none()
    return override or (await ensure_account(session, cb.user_id)).callback_url


async def resend(
    session: AsyncSession, actor: Actor, callback_id: int, *, owner_id: int | None
) -> ResellerCallback:
    """Send the callback again now (same webhook id and body, to the URL that applies now).
    A ``failed`` or ``skipped`` one is re-opened with a fresh round of retries; a pending one
    is tried now instead of at its next retry (that job then finds it is not its turn)."""
    cb = await get_callback(session, callback_id, owner_id=owner_id, lock=True)
    url = await _current_url(session, cb)
    if not url:
        raise _url_missing()
    before = {"status": cb.status, "url": cb.url}
    msg = await outbox.enqueue(session, CALLBACK_TASK, {"callback_id": cb.id, "trigger": "resend"})
    cb.url = url
    cb.status = "pending"
    cb.round_failures = 0
    cb.job_outbox_id = msg.id
    cb.next_attempt_at = clock.now()
    cb.updated_at = clock.now()
    await audit.record(
        session,
        "resellers.callback_resend",
        actor=actor,
        target_type="reseller_callback",
        target_id=cb.id,
        before=before,
        after={"status": "pending", "url": url, "webhook_id": cb.webhook_id},
    )
    return cb
