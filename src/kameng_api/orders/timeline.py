"""The order's timeline (the state machine's record): ``move`` changes an order's status and
writes the ``order_events`` row (from, to, who, why) — every step-by-step status change
goes through it; ``timeline`` reads an order's rows back. A move to a terminal status also
queues the reseller's callback when the order came through the open API
(``resellers.callbacks.order_event``: one primary-key lookup for any other order)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.clock import clock
from kameng_api.orders.models import Order, OrderEvent
from kameng_api.resellers import callbacks


async def move(
    session: AsyncSession, order: Order, to: str, actor_id: int | None, reason: str = ""
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=order.status,
            to_status=to,
            actor_id=actor_id,
            reason=reason[:255],
        )
    )
    order.status = to
    order.updated_at = clock.now()
    event = callbacks.EVENT_OF_STATUS.get(to)
    if event is not None:
        await callbacks.order_event(session, order.id, event, order=order)


async def timeline(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    return list(
        (
            await session.execute(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        ).scalars()
    )
