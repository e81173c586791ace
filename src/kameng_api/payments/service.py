"""Payment rules: start a payment (order or recharge) and apply a gateway notice exactly once.

A notice is believed only when its signature verifies (constant time), its ``pid`` is ours,
``trade_status`` is ``TRADE_SUCCESS``, it names one of our payments, and its amount is that
payment's amount to the cent. The payment row is locked while the notice is applied, so five
copies of one notice arriving at once — or in any order — pay once and deliver once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError
from kameng_api.core.metrics import PAYMENTS_PENDING
from kameng_api.orders import service as orders
from kameng_api.orders.models import Order
from kameng_api.payments import epay
from kameng_api.payments.models import Payment
from kameng_api.settings import Settings, get_settings
from kameng_api.wallet import service as wallet

log = logging.getLogger("kameng.payments")

NOTIFY_PATH = "/api/v1/payments/epay/notify"
MAX_RECHARGE = Decimal("50000")


class PaymentUnavailable(AppError):
    status = 422
    code = "payment_unavailable"
    title = "Online payment is not configured"


class BadNotice(AppError):
    """A notice we do not believe (the gateway is answered ``fail``; nothing changes)."""

    status = 400
    code = "bad_notice"
    title = "Payment notice refused"


@dataclass(frozen=True)
class Started:
    payment: Payment
    pay_url: str


def _gateway(settings: Settings) -> tuple[str, str, str]:
    if not settings.epay_gateway_url or not settings.epay_pid:
        raise PaymentUnavailable("未开通在线支付 (online payment is not configured)")
    return settings.epay_gateway_url, settings.epay_pid, settings.epay_key.get_secret_value()


def _public_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def _out_trade_no() -> str:
    return f"P{clock.now():%y%m%d%H%M%S}{secrets.randbelow(10**8):08d}"


async def _start(
    session: AsyncSession,
    *,
    purpose: str,
    user_id: int,
    amount: Decimal,
    name: str,
    order_id: int | None = None,
    return_path: str = "/",
    channel: str | None = None,
) -> Started:
    settings = get_settings()
    _gateway(settings)  # configured, or PaymentUnavailable before anything is written
    payment = Payment(
        out_trade_no=_out_trade_no(),
        purpose=purpose,
        user_id=user_id,
        order_id=order_id,
        amount=amount,
        channel=channel,
    )
    session.add(payment)
    await session.flush()
    return Started(payment, _pay_url(settings, payment, name, return_path))


def _pay_url(settings: Settings, payment: Payment, name: str, return_path: str) -> str:
    """Where the buyer pays ``payment`` (a pure function of it: rebuilt, never stored)."""
    gateway, pid, key = _gateway(settings)
    base = _public_url(settings)
    return epay.pay_url(
        gateway,
        pid,
        key,
        out_trade_no=payment.out_trade_no,
        name=name,
        amount=payment.amount,
        notify_url=base + NOTIFY_PATH,
        return_url=base + return_path,
        channel=payment.channel,
    )


def _order_page(order: Order) -> str:
    """Where the gateway sends the buyer back: the order's page in the SPA."""
    return f"/account/orders/{order.order_no}"


async def start_order_payment(session: AsyncSession, order: Order) -> Started:
    return await _start(
        session,
        purpose="order",
        user_id=order.buyer_id,
        amount=order.total,
        name=f"{order.product_name} {order.sku_name}",
        order_id=order.id,
        return_path=_order_page(order),
    )


async def start_recharge(session: AsyncSession, actor: Actor, amount: Decimal) -> Started:
    """A wallet recharge (充值) through the gateway: credited when its notice arrives."""
    if not amount.is_finite() or not Decimal("0.01") <= amount <= MAX_RECHARGE:
        raise AppError(
            f"充值金额须在 0.01–{MAX_RECHARGE} 之间 (0.01 ≤ amount ≤ {MAX_RECHARGE})",
            code="bad_amount",
            status=422,
        )
    started = await _start(
        session,
        purpose="recharge",
        user_id=actor.user_id,
        amount=epay.parse_money(epay.money(amount)) or amount,
        name="余额充值",
        return_path="/account/wallet",
    )
    await audit.record(
        session,
        "payments.start_recharge",
        actor=actor,
        target_type="payment",
        target_id=started.payment.out_trade_no,
        after={"amount": format(started.payment.amount, "f")},
    )
    return started


async def apply_notice(session: AsyncSession, params: dict[str, str]) -> Payment | None:
    """Apply one EPay notice. Returns the payment (None for a not-yet-paid status, which is
    acknowledged and ignored); raises ``BadNotice`` for anything we do not believe."""
    settings = get_settings()
    _, pid, key = _gateway(settings)
    if not epay.verify(params, key):
        raise BadNotice("签名错误 (bad signature)", code="bad_signature")
    n = epay.Notice.of(params)
    if n.pid != pid:
        raise BadNotice("商户号不符 (not our merchant id)", code="wrong_merchant")
    if n.trade_status != epay.TRADE_SUCCESS:
        return None
    payment = (
        await session.execute(
            select(Payment).where(Payment.out_trade_no == n.out_trade_no).with_for_update()
        )
    ).scalar_one_or_none()
    if payment is None:
        raise BadNotice("没有这笔支付 (unknown out_trade_no)", code="unknown_payment")
    return await _settle(session, payment, n.trade_no, n.money, n.channel, "notice", params)


async def _settle(
    session: AsyncSession,
    payment: Payment,
    trade_no: str,
    money: str,
    channel: str,
    via: str,
    raw: dict[str, str],
) -> Payment:
    """The gateway says ``payment`` was paid (the row is locked): check the amount, then
    credit or deliver — once."""
    paid = epay.parse_money(money)
    if paid is None or paid != payment.amount:
        log.warning(
            "epay %s amount %r does not match payment %s (%s)",
            via,
            money,
            payment.out_trade_no,
            payment.amount,
        )
        raise BadNotice("金额不符 (the amount does not match)", code="wrong_amount")
    payment.notices += 1
    if payment.status == "succeeded":
        if payment.trade_no != trade_no:
            log.error(
                "payment %s reported again with another trade_no %r (had %r)",
                payment.out_trade_no,
                trade_no,
                payment.trade_no,
            )
        return payment  # applied before: acknowledge, change nothing
    payment.status = "succeeded"
    payment.trade_no = trade_no or None
    payment.channel = channel or payment.channel
    payment.paid_at = clock.now()
    payment.last_notice = {"via": via, **_safe(raw)}
    await audit.record(
        session,
        "payments.paid",
        actor=None,
        target_type="payment",
        target_id=payment.out_trade_no,
        after={
            "purpose": payment.purpose,
            "amount": format(payment.amount, "f"),
            "trade_no": trade_no,
            "via": via,
        },
    )
    if payment.purpose == "recharge":
        await wallet.recharge(session, payment.user_id, payment.amount, payment_id=payment.id)
    else:
        assert payment.order_id is not None
        await orders.paid_by_gateway(session, payment.order_id, payment.id)
    await session.flush()
    return payment


POLL_FIRST_S = 30  # a payment is first asked about this long after it was made
POLL_MAX_S = 900  # … then again after 30 s, 60 s, 120 s … at most every 15 minutes
POLL_WINDOW = timedelta(days=1)  # a payment older than this is no longer asked about


def _next_poll(now: datetime, polls: int) -> datetime:
    return now + timedelta(seconds=min(POLL_FIRST_S * 2**polls, POLL_MAX_S))


async def poll_pending(
    session: AsyncSession, *, limit: int = 50, first_after_s: int = POLL_FIRST_S
) -> int:
    """Ask the gateway about pending payments (a notice may be lost): the order query
    settles the paid ones exactly as their notice would have. Every pending payment of the
    last day is asked about, the least asked and newest first, each on its own schedule
    (``_next_poll``: backing off, so abandoned checkouts do not crowd out new payments), at
    most ``limit`` per run. Returns how many were settled."""
    settings = get_settings()
    await _count_pending(session)
    try:
        gateway, pid, key = _gateway(settings)
    except PaymentUnavailable:
        return 0
    now = clock.now()
    due = func.coalesce(Payment.next_poll_at, Payment.created_at + timedelta(seconds=first_after_s))
    pending = list(
        (
            await session.execute(
                select(Payment)
                .where(
                    Payment.status == "pending",
                    due <= now,
                    Payment.created_at > now - POLL_WINDOW,
                )
                # the least asked first, the newest among them: a fresh payment is not
                # queued behind yesterday's abandoned checkouts
                .order_by(Payment.polls, Payment.created_at.desc())
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for payment in pending:  # asked now, whatever the answer: next time later
        payment.next_poll_at = _next_poll(now, payment.polls)
        payment.polls += 1
    await session.flush()
    settled = 0
    async with httpx.AsyncClient(timeout=5) as client:
        for payment in pending:
            try:
                r = await client.get(epay.query_url(gateway, pid, key, payment.out_trade_no))
                answer = r.json()
            except (httpx.HTTPError, ValueError):
                log.warning("epay order query for %s failed", payment.out_trade_no)
                continue
            if (
                not isinstance(answer, dict)
                or str(answer.get("code")) != "1"
                or str(answer.get("status")) != "1"
                or answer.get("out_trade_no") != payment.out_trade_no
            ):
                continue
            try:
                async with session.begin_nested():
                    await _settle(
                        session,
                        payment,
                        str(answer.get("trade_no", "")),
                        str(answer.get("money", "")),
                        str(answer.get("type", "")),
                        "query",
                        {k: str(v) for k, v in answer.items()},
                    )
                settled += 1
            except BadNotice:
                continue
    return settled


async def _count_pending(session: AsyncSession) -> None:
    """The gauge of pending payments by age (a growing "over 1 h" means notices are lost
    and the poll cannot settle them)."""
    now = clock.now()
    rows = (
        await session.execute(
            select(
                func.count().filter(Payment.created_at > now - timedelta(minutes=5)),
                func.count().filter(
                    Payment.created_at <= now - timedelta(minutes=5),
                    Payment.created_at > now - timedelta(hours=1),
                ),
                func.count().filter(
                    Payment.created_at <= now - timedelta(hours=1),
                    Payment.created_at > now - POLL_WINDOW,
                ),
            ).where(Payment.status == "pending", Payment.created_at > now - POLL_WINDOW)
        )
    ).one()
    for bucket, n in zip(("under_5m", "5m_to_1h", "1h_to_1d"), rows, strict=True):
        PAYMENTS_PENDING.labels(bucket).set(n)


def _safe(params: dict[str, str]) -> dict[str, Any]:
    return {k: v[:200] for k, v in params.items() if k != "sign"}


async def payment_of(session: AsyncSession, order_id: int) -> Payment | None:
    return (
        await session.execute(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
        )
    ).scalar_one_or_none()


async def pay_url_of(session: AsyncSession, order: Order) -> str | None:
    """The pay URL of the order's pending payment."""
    payment = await payment_of(session, order.id)
    if payment is None or payment.status != "pending":
        return None
    return _pay_url(
        get_settings(),
        payment,
        f"{order.product_name} {order.sku_name}",
        _order_page(order),
    )
