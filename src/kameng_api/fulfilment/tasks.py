"""Fulfilment jobs (outbox-fed, idempotent) and the stuck-order re-drive."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.fulfilment import service
from kameng_api.fulfilment.service import Mail
from kameng_api.notifications.tasks import send_mails
from kameng_api.orders.service import DELIVER_TASK, NOTIFY_TASK
from kameng_api.outbox import service as outbox
from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.resellers import callbacks

log = logging.getLogger(__name__)


@outbox_job(DELIVER_TASK, timeout_s=15, max_tries=8)
async def deliver(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    # a retry may follow a call that reached the supplier: ask before submitting again
    await service.deliver(
        session,
        int(payload["order_id"]),
        query_first=bool(payload.get("query_first")) or meta.attempt > 1,
    )


# held batches are small when a sale runs at a steady rate: swept together they are mailed
# in one job each 100 orders instead of one job each
@outbox_job(NOTIFY_TASK, timeout_s=15, max_tries=6, holdable=True, merge=("order_ids", 100))
async def notify(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    """One order's buyer (``order_id``), or a purchase batch's (``order_ids``, from the lane:
    read in three queries, mailed over one connection, recorded in two statements). In a
    batch, the first mail that cannot be sent hands that order and the rest to one job each
    (this one then finishes): a retry never mails the buyers already told again.

    First, open-API orders among them get their reseller callback queued (in a transaction
    of its own, so a mail server that is away does not hold it back; once per order and
    event however often this runs)."""
    ids = [payload["order_id"]] if "order_id" in payload else payload["order_ids"]
    await callbacks.orders_settled_apart([int(i) for i in ids])
    if "order_id" in payload:
        order_id = int(payload["order_id"])
        mail = await service.delivery_mail(session, order_id)
        if mail is not None:
            await _send_and_record(session, [(order_id, mail)], meta.outbox_id, batch=False)
        return
    order_ids = [int(i) for i in payload["order_ids"]]
    mails = await service.batch_mails(session, order_ids)
    told = await _send_and_record(session, mails, meta.outbox_id, batch=True)
    if told < len(mails):
        rest = order_ids[order_ids.index(mails[told][0]) :]
        log.warning("batch notice: order %s and the rest go one by one", rest[0])
        for order_id in rest:
            await outbox.enqueue(session, NOTIFY_TASK, {"order_id": order_id})


async def _send_and_record(
    session: AsyncSession, mails: list[tuple[int, Mail]], outbox_id: int, *, batch: bool
) -> int:
    """Mail them in order (a buyer without an address gets the notice only) and record who
    was told; returns how many were. Outside a batch a failed mail raises (the job retries)."""
    addressed = [n for n, (_, mail) in enumerate(mails) if mail.to]
    # Message-ID from the outbox id: a re-run after a crash is recognisable as the same mail
    out = [
        (
            mails[n][1].to or "",
            mails[n][1].subject,
            mails[n][1].body,
            f"outbox-{outbox_id}-{mails[n][0]}" if batch else f"outbox-{outbox_id}",
        )
        for n in addressed
    ]
    sent, error = await asyncio.to_thread(send_mails, out)
    if error is not None and not batch:
        raise error
    told = len(mails) if error is None else addressed[sent]
    await service.record_notified(session, mails[:told])
    return told


@periodic("fulfilment:redrive_stuck", every_s=60)
async def redrive_stuck(session: AsyncSession) -> None:
    await service.redrive_stuck(session)
