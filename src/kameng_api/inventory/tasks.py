"""Background work of the inventory: large imports (check, then import) and draft expiry."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.inventory import service
from kameng_api.outbox.jobs import JobMeta, outbox_job


@outbox_job(service.VALIDATE_TASK, timeout_s=15, max_tries=3)
async def validate_import(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    await service.validate_batch(session, int(payload["batch_id"]))


@outbox_job(service.IMPORT_TASK, timeout_s=15, max_tries=3)
async def run_import(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    """All keys or none: the COPY commits with the job's done mark; a killed worker's attempt
    rolls back and the retry starts over."""
    batch_id = int(payload["batch_id"])

    async def progress(done: int, total: int) -> None:
        await service.set_progress(batch_id, done, total)

    await service.run_import(session, batch_id, progress)


@periodic("inventory:expire_drafts", every_s=300)
async def expire_drafts(session: AsyncSession) -> None:
    await service.expire_drafts(session)


@periodic("inventory:fold_stock", every_s=5)
async def fold_stock(session: AsyncSession) -> None:
    """Fold purchases' stock slots into the SKUs' counters (and check low-stock alerts);
    clear sold-out flags of SKUs that have keys again."""
    await service.fold_stock(session)
    await service.recheck_sold_out(session)
