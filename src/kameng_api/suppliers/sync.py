"""Catalogue sync (同步商品目录): a staff action starts a run; a job pulls the supplier's
catalogue through its adapter and imports it in bulk.

One run, one job, one transaction: the job (``suppliers:sync_catalogue``) asks the adapter for
the whole catalogue (the adapter pages where its protocol pages), then upserts the products
in chunks of ``CHUNK`` with one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`` each,
marks the products no longer listed, reprices the mappings that point at listed products and
disables the mappings whose product is gone — and all of it commits together with the
outbox row's done mark. A job delivered twice finds its run finished (or the row done) and
does nothing; a job killed half-way rolled everything back and starts over. Only the progress
(``total``, ``processed``) is written in small transactions of its own, so the console sees it
move while the run works.

Guards: a catalogue that lists nothing changes nothing (the run fails with
``empty_catalogue``): an empty answer from a glitching supplier must not disable every
mapping. A product listed twice counts once (the last listing wins).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import db
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, NotFound
from kameng_api.outbox import service as outbox
from kameng_api.outbox.models import OutboxMessage
from kameng_api.suppliers import service
from kameng_api.suppliers.adapter import CatalogueItem, SupplierUnavailable
from kameng_api.suppliers.models import Supplier, SupplierMapping
from kameng_api.suppliers.sync_models import (
    SupplierCatalogueItem,
    SupplierSyncChange,
    SupplierSyncRun,
)

log = logging.getLogger("kameng.suppliers.sync")

SYNC_TASK = "suppliers:sync_catalogue"
CHUNK = 1000  # products per upsert statement
MAX_TEXT = {"product_id": 64, "name": 255, "kind": 32}


class SyncRunning(AppError):
    status = 409
    code = "sync_running"
    title = "Sync running"


# ---- starting, reading -----------------------------------------------------------------------


async def settle_stale(session: AsyncSession, run: SupplierSyncRun) -> SupplierSyncRun:
    """A run whose job gave up (its outbox row failed after every retry) is failed, with the
    job's last error: it must not block the next run forever."""
    if run.status != "running" or run.outbox_id is None:
        return run
    msg = await session.get(OutboxMessage, run.outbox_id)
    if msg is not None and (msg.failed_at is not None or msg.done_at is not None):
        run.status = "failed"
        run.error = (msg.last_error or "the job stopped")[:500]
        run.finished_at = msg.failed_at or msg.done_at
    return run


async def start(session: AsyncSession, actor: Actor, supplier: Supplier) -> SupplierSyncRun:
    """Start a sync of ``supplier``'s catalogue; 409 ``sync_running`` while one runs."""
    running = (
        await session.execute(
            select(SupplierSyncRun).where(
                SupplierSyncRun.supplier_id == supplier.id, SupplierSyncRun.status == "running"
            )
        )
    ).scalar_one_or_none()
    if running is not None:
        await settle_stale(session, running)
        await session.flush()
    run_id = (
        await session.execute(
            insert(SupplierSyncRun)
            .values(supplier_id=supplier.id, started_by=actor.user_id)
            .on_conflict_do_nothing(
                index_elements=["supplier_id"], index_where=text("status = 'running'")
            )
            .returning(SupplierSyncRun.id)
        )
    ).scalar_one_or_none()
    if run_id is None:
        raise SyncRunning("该上游正在同步商品目录 (a catalogue sync of this supplier is running)")
    msg = await outbox.enqueue(session, SYNC_TASK, {"run_id": run_id})
    run = await get_run(session, supplier.id, run_id)
    run.outbox_id = msg.id
    await audit.record(
        session,
        "suppliers.sync_start",
        actor=actor,
        target_type="supplier",
        target_id=supplier.id,
        after={"run_id": run_id},
    )
    await session.flush()
    return run


async def get_run(session: AsyncSession, supplier_id: int, run_id: int) -> SupplierSyncRun:
    run = await session.get(SupplierSyncRun, run_id, populate_existing=True)
    if run is None or run.supplier_id != supplier_id:
        raise NotFound("No such sync run.", code="unknown_sync_run")
    return await settle_stale(session, run)


async def list_runs(
    session: AsyncSession, supplier_id: int, *, before_id: int | None, limit: int
) -> list[SupplierSyncRun]:
    q = select(SupplierSyncRun).where(SupplierSyncRun.supplier_id == supplier_id)
    if before_id is not None:
        q = q.where(SupplierSyncRun.id < before_id)
    q = q.order_by(SupplierSyncRun.id.desc()).limit(limit)
    rows = list((await session.execute(q)).scalars())
    return [await settle_stale(session, r) for r in rows]


async def list_changes(
    session: AsyncSession, run: SupplierSyncRun, *, before_id: int | None, limit: int
) -> list[SupplierSyncChange]:
    q = select(SupplierSyncChange).where(SupplierSyncChange.run_id == run.id)
    if before_id is not None:
        q = q.where(SupplierSyncChange.id < before_id)
    q = q.order_by(SupplierSyncChange.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


@dataclass(frozen=True)
class CatalogueRow:
    item: SupplierCatalogueItem
    mapped_sku_ids: list[int]


async def list_items(
    session: AsyncSession,
    supplier_id: int,
    *,
    q: str | None,
    present: bool | None,
    before_id: int | None,
    limit: int,
) -> list[CatalogueRow]:
    """The supplier's synced products, newest first; ``q`` searches the name and the
    product id (case-insensitive, substring). Each with the SKUs already mapped to it."""
    stmt = select(SupplierCatalogueItem).where(SupplierCatalogueItem.supplier_id == supplier_id)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            SupplierCatalogueItem.name.ilike(like, escape="\\")
            | SupplierCatalogueItem.product_id.ilike(like, escape="\\")
        )
    if present is not None:
        stmt = stmt.where(SupplierCatalogueItem.present.is_(present))
    if before_id is not None:
        stmt = stmt.where(SupplierCatalogueItem.id < before_id)
    stmt = stmt.order_by(SupplierCatalogueItem.id.desc()).limit(limit)
    items = list((await session.execute(stmt)).scalars())
    mapped: dict[str, list[int]] = {}
    if items:
        rows = await session.execute(
            select(SupplierMapping.supplier_product_id, SupplierMapping.sku_id)
            .where(
                SupplierMapping.supplier_id == supplier_id,
                SupplierMapping.supplier_product_id.in_([i.product_id for i in items]),
            )
            .order_by(SupplierMapping.sku_id)
        )
        for pid, sku_id in rows:
            mapped.setdefault(pid, []).append(sku_id)
    return [CatalogueRow(i, mapped.get(i.product_id, [])) for i in items]


# ---- the job ---------------------------------------------------------------------------------


async def _progress(run_id: int, **values: Any) -> None:
    """Progress the console can see now (its own small transaction)."""
    async with db.unit_of_work() as s:
        await s.execute(
            update(SupplierSyncRun)
            .where(SupplierSyncRun.id == run_id, SupplierSyncRun.status == "running")
            .values(**values)
        )


def _dedupe(items: Sequence[CatalogueItem]) -> list[CatalogueItem]:
    seen: dict[str, CatalogueItem] = {}
    for it in items:
        pid = it.product_id.strip()[: MAX_TEXT["product_id"]]
        if pid:
            seen[pid] = it
    return [
        CatalogueItem(
            pid,
            it.name[: MAX_TEXT["name"]],
            it.cost if it.cost is None or it.cost >= 0 else None,
            it.kind[: MAX_TEXT["kind"]],
            it.available,
        )
        for pid, it in seen.items()
    ]


UPSERT = text(
    """
    INSERT INTO supplier_catalogue_items AS t
        (supplier_id, product_id, name, cost, kind, available, present, last_run_id)
    SELECT CAST(:supplier_id AS bigint), u.product_id, u.name, u.cost, u.kind, u.available,
           true, CAST(:run_id AS bigint)
    FROM unnest(CAST(:product_ids AS text[]), CAST(:names AS text[]),
                CAST(:costs AS numeric[]), CAST(:kinds AS text[]),
                CAST(:availables AS boolean[]))
         AS u(product_id, name, cost, kind, available)
    ON CONFLICT (supplier_id, product_id) DO UPDATE SET
        name = excluded.name, cost = excluded.cost, kind = excluded.kind,
        available = excluded.available, present = true,
        last_seen_at = now(), last_run_id = excluded.last_run_id,
        changed_at = CASE
            WHEN (t.name, t.cost, t.kind, t.available, t.present)
                 IS DISTINCT FROM (excluded.name, excluded.cost, excluded.kind,
                                   excluded.available, true)
            THEN now() ELSE t.changed_at END
    RETURNING (xmax = 0) AS inserted, (changed_at = now()) AS changed
    """
)

MARK_MISSING = text(
    """
    UPDATE supplier_catalogue_items
    SET present = false, changed_at = now(), last_run_id = CAST(:run_id AS bigint)
    WHERE supplier_id = :supplier_id AND present
      AND (last_run_id IS DISTINCT FROM CAST(:run_id AS bigint))
    """
)

REPRICE = text(
    """
    WITH old AS (
        SELECT m.id, m.sku_id, m.supplier_product_id, m.cost AS old_cost, c.cost AS new_cost
        FROM supplier_mappings m
        JOIN supplier_catalogue_items c
          ON c.supplier_id = m.supplier_id AND c.product_id = m.supplier_product_id
        WHERE m.supplier_id = :supplier_id AND c.present AND c.cost IS NOT NULL
          AND m.cost IS DISTINCT FROM c.cost
        FOR UPDATE OF m
    ), upd AS (
        UPDATE supplier_mappings m SET cost = old.new_cost, updated_at = now()
        FROM old WHERE m.id = old.id
        RETURNING m.id
    )
    INSERT INTO supplier_sync_changes
        (run_id, mapping_id, sku_id, product_id, change, old_cost, new_cost, note)
    SELECT CAST(:run_id AS bigint), old.id, old.sku_id, old.supplier_product_id, 'cost',
           old.old_cost, old.new_cost, '上游成本变动 (supplier cost changed)'
    FROM old JOIN upd ON upd.id = old.id
    ON CONFLICT DO NOTHING
    """
)

DISABLE_GONE = text(
    """
    WITH gone AS (
        SELECT m.id, m.sku_id, m.supplier_product_id, m.cost, c.id IS NOT NULL AS was_listed
        FROM supplier_mappings m
        LEFT JOIN supplier_catalogue_items c
          ON c.supplier_id = m.supplier_id AND c.product_id = m.supplier_product_id
        WHERE m.supplier_id = :supplier_id AND m.enabled
          AND (c.id IS NULL OR NOT c.present)
        FOR UPDATE OF m
    ), upd AS (
        UPDATE supplier_mappings m SET enabled = false, updated_at = now()
        FROM gone WHERE m.id = gone.id
        RETURNING m.id
    )
    INSERT INTO supplier_sync_changes
        (run_id, mapping_id, sku_id, product_id, change, old_cost, new_cost, note)
    SELECT CAST(:run_id AS bigint), gone.id, gone.sku_id, gone.supplier_product_id, 'disabled',
           gone.cost, gone.cost,
           CASE WHEN gone.was_listed
                THEN '上游已下架该商品，对接已停用 (no longer listed: mapping disabled)'
                ELSE '上游目录中没有该商品，对接已停用 (not in the catalogue: mapping disabled)'
           END
    FROM gone JOIN upd ON upd.id = gone.id
    ON CONFLICT DO NOTHING
    """
)


async def _fail(session: AsyncSession, run: SupplierSyncRun, error: str) -> None:
    run.status = "failed"
    run.error = error[:500]
    run.finished_at = clock.now()


async def run_sync(session: AsyncSession, run_id: int) -> SupplierSyncRun | None:
    """The job: pull, upsert, reprice, disable — in the caller's (the job's) transaction."""
    run = await session.get(SupplierSyncRun, run_id)
    if run is None or run.status != "running":
        return run  # delivered again after it finished: nothing to do
    sup = await session.get(Supplier, run.supplier_id)
    if sup is None:  # pragma: no cover - suppliers are never deleted
        return run
    try:
        listed = await service.adapter_for(sup).catalogue()
    except SupplierUnavailable as exc:
        await _fail(session, run, f"上游目录获取失败 (the supplier did not answer): {exc}")
        return run
    items = _dedupe(listed)
    if not items:
        await _fail(
            session,
            run,
            "上游目录为空，未做任何更改 (the supplier listed no products: nothing changed)",
        )
        return run
    await _progress(run_id, total=len(items), processed=0)
    created = updated = 0
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        result = await session.execute(
            UPSERT,
            {
                "supplier_id": sup.id,
                "run_id": run_id,
                "product_ids": [i.product_id for i in chunk],
                "names": [i.name for i in chunk],
                "costs": [i.cost for i in chunk],
                "kinds": [i.kind for i in chunk],
                "availables": [i.available for i in chunk],
            },
        )
        for inserted, changed in result.all():
            if inserted:
                created += 1
            elif changed:
                updated += 1
        await _progress(run_id, processed=start + len(chunk))
    params = {"supplier_id": sup.id, "run_id": run_id}
    missing = (await session.execute(MARK_MISSING, params)).rowcount  # type: ignore[attr-defined]
    repriced = (await session.execute(REPRICE, params)).rowcount  # type: ignore[attr-defined]
    disabled = (await session.execute(DISABLE_GONE, params)).rowcount  # type: ignore[attr-defined]
    await session.refresh(run)
    run.status = "done"
    run.total = len(items)
    run.processed = len(items)
    run.created, run.updated, run.missing = created, updated, int(missing)
    run.repriced, run.disabled = int(repriced), int(disabled)
    run.error = None
    run.finished_at = clock.now()
    log.info(
        "catalogue synced",
        extra={"supplier_id": sup.id, "run_id": run_id, "total": len(items), "created": created},
    )
    return run
