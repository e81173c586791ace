"""The callback delivery job (outbox-fed; one attempt per run, the next is a delayed row)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.resellers import callbacks

log = logging.getLogger(__name__)


# one attempt is at most KAMENG_CALLBACK_TIMEOUT_S (≤ 10 s) plus a few statements; a failed
# attempt is not an error of the job (it is logged and scheduled), so arq's retries are for
# the database or Redis being away only
@outbox_job(callbacks.CALLBACK_TASK, timeout_s=14, max_tries=8)
async def callback_send(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    result = await callbacks.send(
        session,
        int(payload["callback_id"]),
        meta.outbox_id,
        str(payload.get("trigger") or "auto"),
    )
    log.debug(
        "reseller callback",
        extra={
            "callback_id": payload["callback_id"],
            "result": result,
            "outbox_id": meta.outbox_id,
        },
    )
