"""Jobs of catalogue sync and reconciliation (outbox-fed; the services do the work)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.suppliers import reconcile, sync


@outbox_job(sync.SYNC_TASK, timeout_s=15, max_tries=3)
async def sync_catalogue(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    """The whole catalogue in the job's one transaction (all or nothing)."""
    await sync.run_sync(session, int(payload["run_id"]))


@outbox_job(reconcile.RECON_TASK, timeout_s=15, max_tries=5)
async def reconcile_page(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    """One page of a reconciliation; the next page is another row of the outbox."""
    await reconcile.run_page(session, int(payload["report_id"]))
