"""arq jobs of the system capability (thin: they call the service or touch one row)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.system.models import WorkerProbe
from kameng_api.system.service import PROBE_TASK


@outbox_job(PROBE_TASK, timeout_s=15)
async def run_probe(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    probe = (
        await session.execute(
            select(WorkerProbe).where(WorkerProbe.id == payload["probe_id"]).with_for_update()
        )
    ).scalar_one()
    if probe.work_ms:
        await asyncio.sleep(probe.work_ms / 1000)
    probe.runs += 1
    probe.completed_at = func.now()
