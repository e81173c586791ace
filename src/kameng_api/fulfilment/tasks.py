"""Fulfilment jobs (outbox-fed, idempotent) and the stuck-order re-drive."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.fulfilment import service
from kameng_api.notifications.tasks import send_mail
from kameng_api.orders.service import DELIVER_TASK, NOTIFY_TASK
from kameng_api.outbox.jobs import JobMeta, outbox_job


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
    order_id = int(payload["order_id"])
    mail = await service.delivery_mail(session, order_id)
    if mail is None:
        return
    if mail.to:
        # Message-ID from the outbox id: a re-run after a crash is recognisable as the same mail
        await asyncio.to_thread(
            send_mail, mail.to, mail.subject, mail.body, f"outbox-{meta.outbox_id}"
        )
    await service.record_notified(session, order_id, mail)


@periodic("fulfilment:redrive_stuck", every_s=60)
async def redrive_stuck(session: AsyncSession) -> None:
    await service.redrive_stuck(session)
