"""Delivery jobs: direct recharge through the upstream suppliers (``routing.py``), the
buyer's notice, stuck-order re-drive."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.fulfilment import routing
from kameng_api.identity import service as identity
from kameng_api.identity.models import User
from kameng_api.notifications import service as notifications
from kameng_api.orders import service as orders
from kameng_api.orders.models import Order
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.fulfilment")


async def deliver(session: AsyncSession, order_id: int, *, query_first: bool) -> str:
    """One run of a direct recharge's delivery job (routing, failover, polling): see
    ``fulfilment/routing.py``. ``query_first`` is implied by the recorded upstream rows: a
    row that is not settled is always asked about before anything is ordered."""
    return await routing.deliver(session, order_id)


async def redrive_stuck(session: AsyncSession, *, limit: int = 100) -> int:
    """Direct recharges still ``delivering`` after ``KAMENG_STUCK_ORDER_S`` with no delivery
    job left (its retries ran out: supplier down, no supplier configured …) get a new one."""
    cut = clock.now() - timedelta(seconds=get_settings().stuck_order_s)
    open_job = exists().where(
        and_(
            OutboxMessage.task == orders.DELIVER_TASK,
            OutboxMessage.done_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.payload["order_id"].as_integer() == Order.id,
        )
    )
    stuck = list(
        (
            await session.execute(
                select(Order)
                .where(
                    Order.status == "delivering",
                    Order.delivery_type.in_(("direct_recharge", "card_key")),
                    Order.updated_at < cut,
                    ~open_job,
                )
                .order_by(Order.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for order in stuck:
        log.warning("re-driving a stuck order", extra={"order_no": order.order_no})
        await orders.redrive(session, order, "发货超时，自动重新发货")
    return len(stuck)


@dataclass(frozen=True)
class Mail:
    user_id: int
    to: str | None
    subject: str
    body: str
    notice_title: str
    notice_body: str


async def batch_mails(session: AsyncSession, order_ids: list[int]) -> list[tuple[int, Mail]]:
    """What each of a batch's buyers is told, in ``order_ids``' order (orders with nothing to
    tell left out): orders, buyers and card keys in three queries."""
    found = {
        o.id: o
        for o in (await session.execute(select(Order).where(Order.id.in_(order_ids)))).scalars()
    }
    buyers = {
        u.id: u
        for u in await identity.get_users(session, sorted({o.buyer_id for o in found.values()}))
    }
    keys = await orders.delivered_keys_many(
        session, [o.id for o in found.values() if o.delivery_type == "card_key"]
    )
    out = []
    for order_id in order_ids:
        order = found.get(order_id)
        mail = (
            None if order is None else _mail(order, buyers[order.buyer_id], keys.get(order_id, []))
        )
        if mail is not None:
            out.append((order_id, mail))
    return out


async def delivery_mail(session: AsyncSession, order_id: int) -> Mail | None:
    """What the buyer is told about an order's delivery (mail with the goods; the in-app
    notice without secrets). None: nothing to tell."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    buyer = await identity.get_user(session, order.buyer_id)
    keys = []
    if order.delivery_type == "card_key" and order.status in ("delivered", "partially_delivered"):
        keys = await orders.delivered_keys(session, order)
    return _mail(order, buyer, keys)


def _mail(order: Order, buyer: User, keys: list[orders.DeliveredKey]) -> Mail | None:
    head = f"订单 {order.order_no}：{order.product_name} · {order.sku_name} × {order.quantity}"
    if order.status in ("delivered", "partially_delivered"):
        lines = [head, ""]
        if order.delivery_type == "card_key":
            for i, k in enumerate(keys, 1):
                lines.append(
                    f"{i}. 卡号 {k.card_no}  卡密 {k.secret}"
                    if k.card_no
                    else f"{i}. 卡密 {k.secret}"
                )
        elif order.delivery_type == "manual":
            lines.append(orders.delivery_content(order) or "")
        else:
            lines.append(f"已充值到 {', '.join(order.buyer_input.values())}")
        lines += ["", "请妥善保管，勿泄露给他人。"]
        return Mail(
            buyer.id,
            buyer.email,
            f"【发货通知】{order.product_name} 订单 {order.order_no}",
            "\n".join(lines),
            "订单已发货",
            f"{head} 已发货，请在「我的订单」查看。",
        )
    if order.status in ("failed", "refunded"):
        failed = order.delivered_at is None
        what = "发货失败，已退款" if failed else "已退款"
        body = f"{head}\n\n{what} ¥{order.refunded_total} 到您的余额。"
        return Mail(
            buyer.id,
            buyer.email,
            f"【退款通知】订单 {order.order_no}",
            body,
            "订单发货失败，已退款" if failed else "订单已退款",
            body.replace("\n\n", " "),
        )
    return None


async def record_notified(session: AsyncSession, told: list[tuple[int, Mail]]) -> None:
    """These buyers were told: their in-app notices, and when (one statement each)."""
    if not told:
        return
    await notifications.notify_many(
        session, [(m.user_id, "order", m.notice_title, m.notice_body) for _, m in told]
    )
    await session.execute(
        update(Order)
        .where(Order.id.in_([order_id for order_id, _ in told]))
        .values(notified_at=clock.now())
        .execution_options(synchronize_session=False)
    )
