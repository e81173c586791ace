"""Fulfilment jobs (outbox-fed, idempotent) and the stuck-order re-drive."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.fulfilment import service
from kameng_api.notifications.tasks import send_mail
from kameng_api.orders.service import DELIVER_TASK, NOTIFY_TASK, DeliveredKey
from kameng_api.outbox import service as outbox
from kameng_api.outbox.jobs import JobMeta, outbox_job

log = logging.getLogger(__name__)


@outbox_job(DELIVER_TASK, timeout_s=12, max_tries=8)
async def deliver(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    # a retry may follow a call that reached the supplier: ask before submitting again
    await service.deliver(
        session,
        int(payload["order_id"]),
        query_first=bool(payload.get("query_first")) or meta.attempt > 1,
    )


@outbox_job(NOTIFY_TASK, timeout_s=15, max_tries=6)
async def notify(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    """One order's buyer (``order_id``), or a purchase batch's (``order_ids``, from the lane).
    In a batch, the first mail that cannot be sent hands that order and the rest to one job
    each (this one then finishes): a retry never mails the buyers already told again."""
    if "order_id" in payload:
        await _notify_one(session, int(payload["order_id"]), f"outbox-{meta.outbox_id}")
        return
    order_ids = [int(i) for i in payload["order_ids"]]
    keys = await service.preload_for_mail(session, order_ids)
    for n, order_id in enumerate(order_ids):
        try:
            await _notify_one(
                session, order_id, f"outbox-{meta.outbox_id}-{order_id}", keys.get(order_id)
            )
        except Exception:
            log.warning("batch notice: order %s and the rest go one by one", order_id)
            for rest in order_ids[n:]:
                await outbox.enqueue(session, NOTIFY_TASK, {"order_id": rest})
            return


async def _notify_one(
    session: AsyncSession,
    order_id: int,
    message_id: str,
    keys: list[DeliveredKey] | None = None,
) -> None:
    mail = await service.delivery_mail(session, order_id, keys)
    if mail is None:
        return
    if mail.to:
        # Message-ID from the outbox id: a re-run after a crash is recognisable as the same mail
        await asyncio.to_thread(send_mail, mail.to, mail.subject, mail.body, message_id)
    await service.record_notified(session, order_id, mail)


@periodic("fulfilment:redrive_stuck", every_s=60)
async def redrive_stuck(session: AsyncSession) -> None:
    await service.redrive_stuck(session)
