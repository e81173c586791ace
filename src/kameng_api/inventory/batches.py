"""Import batches: find one as the actor may see it (or lock one for a job), list them, and
void a whole imported batch while none of its keys was sold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound
from kameng_api.inventory.errors import BatchHasSoldKeys, BatchState
from kameng_api.inventory.models import CardKey, ImportBatch
from kameng_api.inventory.permissions import InventoryPerm
from kameng_api.inventory.stock import check_low_stock, move_stock


def _sees_all(actor: Actor) -> bool:
    return actor.has(InventoryPerm.read)


async def get_batch(
    session: AsyncSession, actor: Actor, batch_id: int, *, lock: bool = False
) -> ImportBatch:
    """A batch as this actor may see it: without ``inventory:read`` only their own (else 404)."""
    batch = await session.get(ImportBatch, batch_id, with_for_update=lock, populate_existing=lock)
    if batch is None or (not _sees_all(actor) and batch.created_by != actor.user_id):
        raise NotFound("No such import.", code="unknown_import")
    return batch


async def lock_batch(session: AsyncSession, batch_id: int) -> ImportBatch:
    """A batch for a job (no actor), locked ``FOR UPDATE`` and read afresh."""
    batch = await session.get(ImportBatch, batch_id, with_for_update=True, populate_existing=True)
    if batch is None:
        raise NotFound("No such import.", code="unknown_import")
    return batch


@dataclass(frozen=True)
class BatchFilter:
    product_id: int | None = None
    sku_id: int | None = None
    status: str | None = None


async def list_batches(
    session: AsyncSession, actor: Actor, f: BatchFilter, *, before_id: int | None, limit: int
) -> list[ImportBatch]:
    q = select(ImportBatch)
    if not _sees_all(actor):
        q = q.where(ImportBatch.created_by == actor.user_id)
    if f.product_id is not None:
        q = q.where(ImportBatch.product_id == f.product_id)
    if f.sku_id is not None:
        q = q.where(ImportBatch.sku_id == f.sku_id)
    if f.status is not None:
        q = q.where(ImportBatch.status == f.status)
    if before_id is not None:
        q = q.where(ImportBatch.id < before_id)
    rows = await session.execute(q.order_by(ImportBatch.id.desc()).limit(limit))
    return list(rows.scalars())


async def void_batch(
    session: AsyncSession, actor: Actor, batch_id: int, reason: str
) -> ImportBatch:
    """Void a whole imported batch — only while none of its keys was sold or reserved."""
    batch = await get_batch(session, actor, batch_id, lock=True)
    if batch.status != "imported":
        raise BatchState("只有已导入的批次可以整批作废 (only an imported batch can be voided)")
    in_batch = batch_keys(batch)
    sold = await session.scalar(
        select(CardKey.id).where(*in_batch, CardKey.state.in_(("sold", "reserved"))).limit(1)
    )
    if sold is not None:
        raise BatchHasSoldKeys("该批次已有卡密售出，不能整批作废；请单独作废未售出的卡密")
    voided = await session.execute(
        update(CardKey)
        .where(*in_batch, CardKey.state == "available")
        .values(state="voided", voided_at=clock.now())
        .returning(CardKey.id)
    )
    n = len(voided.all())
    batch.status = "voided"
    batch.voided_by = actor.user_id
    batch.voided_at = clock.now()
    batch.voided_count = n
    await move_stock(session, batch.sku_id, batch.product_id, available=-n, voided=n)
    await check_low_stock(session, [batch.sku_id])
    await audit.record(
        session,
        "inventory.void_import",
        actor=actor,
        target_type="inventory_batch",
        target_id=batch.id,
        after={"voided": n},
        detail=reason,
        risk="medium",
    )
    await session.flush()
    return batch


def batch_keys(batch: ImportBatch) -> list[Any]:
    """Conditions selecting the keys of an imported batch (its id range)."""
    if batch.first_key_id is None or batch.last_key_id is None:
        return [CardKey.id.is_(None)]
    return [
        CardKey.id.between(batch.first_key_id, batch.last_key_id),
        CardKey.batch_id == batch.id,
    ]
