"""HTTP for catalogue sync (同步商品目录), the synced catalogue, and reconciliation (对账).

Starting needs ``suppliers:write`` (and is in the operation log); reading needs
``suppliers:read``. Starts answer 202 with the run/report row, which the console polls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id
from kameng_api.core.errors import error_responses
from kameng_api.rbac.deps import DbSession, require
from kameng_api.suppliers import reconcile, service, sync
from kameng_api.suppliers.permissions import SuppliersPerm
from kameng_api.suppliers.sync_models import MISMATCH_KINDS, SupplierReconReport
from kameng_api.suppliers.sync_schemas import (
    MismatchKind,
    ReconAmountsOut,
    ReconCountsOut,
    ReconIn,
    ReconMismatchOut,
    ReconMismatchPage,
    ReconReportOut,
    ReconReportPage,
    SupplierProductOut,
    SupplierProductPage,
    SyncChangeOut,
    SyncChangePage,
    SyncRunOut,
    SyncRunPage,
)

router = APIRouter(tags=["suppliers"])

Reader = Annotated[Actor, require(SuppliersPerm.read)]
Writer = Annotated[Actor, require(SuppliersPerm.write)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _utc(t: datetime) -> datetime:
    """In UTC (a time without a zone is read as UTC); 422 for one UTC cannot hold (year 1
    with a positive offset, year 9999 with a negative one)."""
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except OverflowError as exc:
        raise reconcile.BadPeriod("时间超出范围 (a time out of range)") from exc


def _next(ids: list[int], limit: int) -> int | None:
    return ids[-1] if ids and len(ids) == limit else None


# ---- catalogue sync ------------------------------------------------------------------------


@router.post(
    "/suppliers/{supplier_id}/catalogue-syncs",
    operation_id="suppliers:start_sync",
    response_model=SyncRunOut,
    status_code=202,
    responses=error_responses(401, 403, 404, 409),
)
async def start_sync(supplier_id: Id, session: DbSession, actor: Writer) -> SyncRunOut:
    """同步商品目录: start importing the supplier's catalogue (products and costs) in the
    background; poll the run. 409 ``sync_running`` while a sync of this supplier runs."""
    sup = await service.get_supplier(session, supplier_id)
    run = await sync.start(session, actor, sup)
    return SyncRunOut.model_validate(run)


@router.get(
    "/suppliers/{supplier_id}/catalogue-syncs",
    operation_id="suppliers:list_syncs",
    response_model=SyncRunPage,
    responses=error_responses(401, 403, 404, 422),
)
async def list_syncs(
    supplier_id: Id,
    session: DbSession,
    _: Reader,
    before_id: Id | None = None,
    limit: Limit = 20,
) -> SyncRunPage:
    """The supplier's sync runs, newest first (``before_id`` = ``next_before_id``)."""
    sup = await service.get_supplier(session, supplier_id)
    runs = await sync.list_runs(session, sup.id, before_id=before_id, limit=limit)
    return SyncRunPage(
        items=[SyncRunOut.model_validate(r) for r in runs],
        next_before_id=_next([r.id for r in runs], limit),
    )


@router.get(
    "/suppliers/{supplier_id}/catalogue-syncs/{run_id}",
    operation_id="suppliers:get_sync",
    response_model=SyncRunOut,
    responses=error_responses(401, 403, 404),
)
async def get_sync(supplier_id: Id, run_id: Id, session: DbSession, _: Reader) -> SyncRunOut:
    """One run with its progress (``processed`` of ``total``) and counts."""
    return SyncRunOut.model_validate(await sync.get_run(session, supplier_id, run_id))


@router.get(
    "/suppliers/{supplier_id}/catalogue-syncs/{run_id}/changes",
    operation_id="suppliers:sync_changes",
    response_model=SyncChangePage,
    responses=error_responses(401, 403, 404, 422),
)
async def sync_changes(
    supplier_id: Id,
    run_id: Id,
    session: DbSession,
    _: Reader,
    before_id: Id | None = None,
    limit: Limit = 50,
) -> SyncChangePage:
    """What the run did to mappings: ``cost`` (old → new) or ``disabled`` (product gone)."""
    run = await sync.get_run(session, supplier_id, run_id)
    rows = await sync.list_changes(session, run, before_id=before_id, limit=limit)
    return SyncChangePage(
        items=[SyncChangeOut.model_validate(c) for c in rows],
        next_before_id=_next([c.id for c in rows], limit),
    )


@router.get(
    "/suppliers/{supplier_id}/products",
    operation_id="suppliers:list_products",
    response_model=SupplierProductPage,
    responses=error_responses(401, 403, 404, 422),
)
async def list_products(
    supplier_id: Id,
    session: DbSession,
    _: Reader,
    q: Annotated[str | None, Query(max_length=64)] = None,
    present: bool | None = None,
    before_id: Id | None = None,
    limit: Limit = 50,
) -> SupplierProductPage:
    """The supplier's catalogue as last synced (to map SKUs from): ``q`` searches name and
    product id; ``present=true`` only what the last sync listed. Newest first."""
    sup = await service.get_supplier(session, supplier_id)
    rows = await sync.list_items(
        session, sup.id, q=q, present=present, before_id=before_id, limit=limit
    )
    return SupplierProductPage(
        items=[
            SupplierProductOut(
                id=r.item.id,
                supplier_id=r.item.supplier_id,
                product_id=r.item.product_id,
                name=r.item.name,
                cost=r.item.cost,
                kind=r.item.kind,
                available=r.item.available,
                present=r.item.present,
                first_seen_at=r.item.first_seen_at,
                last_seen_at=r.item.last_seen_at,
                mapped_sku_ids=r.mapped_sku_ids,
            )
            for r in rows
        ],
        next_before_id=_next([r.item.id for r in rows], limit),
    )


# ---- reconciliation ------------------------------------------------------------------------


def _report(r: SupplierReconReport) -> ReconReportOut:
    counts = {k: int((r.counts or {}).get(k, 0)) for k in MISMATCH_KINDS}
    amounts = {k: Decimal(str((r.amounts or {}).get(k, "0"))) for k in MISMATCH_KINDS}
    return ReconReportOut(
        id=r.id,
        supplier_id=r.supplier_id,
        period_start=r.period_start,
        period_end=r.period_end,
        status=r.status,
        total=r.total,
        checked=r.checked,
        matched=r.matched,
        mismatched=r.mismatched,
        counts=ReconCountsOut(**counts),
        amounts=ReconAmountsOut(**amounts),
        cost_at_stake=r.cost_at_stake,
        theirs_listed=r.theirs_listed,
        note=r.note,
        error=r.error,
        started_by=r.started_by,
        started_at=r.started_at,
        finished_at=r.finished_at,
    )


@router.post(
    "/suppliers/{supplier_id}/reconciliations",
    operation_id="suppliers:start_recon",
    response_model=ReconReportOut,
    status_code=202,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def start_recon(
    supplier_id: Id, body: ReconIn, session: DbSession, actor: Writer
) -> ReconReportOut:
    """对账: compare our upstream orders of ``[since, until)`` with the supplier's answers,
    in the background; poll the report. 409 ``recon_running`` while one of this supplier
    runs; 422 ``bad_period`` for an empty or longer than 31 days period."""
    sup = await service.get_supplier(session, supplier_id)
    since, until = _utc(body.since), _utc(body.until)
    return _report(await reconcile.start(session, actor, sup, since, until))


@router.get(
    "/suppliers/{supplier_id}/reconciliations",
    operation_id="suppliers:list_recons",
    response_model=ReconReportPage,
    responses=error_responses(401, 403, 404, 422),
)
async def list_recons(
    supplier_id: Id,
    session: DbSession,
    _: Reader,
    before_id: Id | None = None,
    limit: Limit = 20,
) -> ReconReportPage:
    """The supplier's reconciliation reports, newest first."""
    sup = await service.get_supplier(session, supplier_id)
    rows = await reconcile.list_reports(session, sup.id, before_id=before_id, limit=limit)
    return ReconReportPage(
        items=[_report(r) for r in rows], next_before_id=_next([r.id for r in rows], limit)
    )


@router.get(
    "/suppliers/{supplier_id}/reconciliations/{report_id}",
    operation_id="suppliers:get_recon",
    response_model=ReconReportOut,
    responses=error_responses(401, 403, 404),
)
async def get_recon(
    supplier_id: Id, report_id: Id, session: DbSession, _: Reader
) -> ReconReportOut:
    """One report: progress (``checked`` of ``total``), counts and cost at stake per kind."""
    return _report(await reconcile.get_report(session, supplier_id, report_id))


@router.get(
    "/suppliers/{supplier_id}/reconciliations/{report_id}/mismatches",
    operation_id="suppliers:recon_mismatches",
    response_model=ReconMismatchPage,
    responses=error_responses(401, 403, 404, 422),
)
async def recon_mismatches(
    supplier_id: Id,
    report_id: Id,
    session: DbSession,
    _: Reader,
    kind: MismatchKind | None = None,
    before_id: Id | None = None,
    limit: Limit = 50,
) -> ReconMismatchPage:
    """The report's mismatches, newest first, optionally of one ``kind``."""
    report = await reconcile.get_report(session, supplier_id, report_id)
    rows = await reconcile.list_mismatches(
        session, report, kind=kind, before_id=before_id, limit=limit
    )
    return ReconMismatchPage(
        items=[ReconMismatchOut.model_validate(m) for m in rows],
        next_before_id=_next([m.id for m in rows], limit),
    )


@router.get(
    "/suppliers/{supplier_id}/reconciliations/{report_id}/export",
    operation_id="suppliers:export_recon",
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 with BOM)"},
        **error_responses(401, 403, 404),
    },
)
async def export_recon(
    supplier_id: Id, report_id: Id, session: DbSession, actor: Reader
) -> Response:
    """The report's mismatches as CSV (at most 100,000 rows). Cells that would start a
    spreadsheet formula are prefixed with a quote."""
    report = await reconcile.get_report(session, supplier_id, report_id)
    body = await reconcile.export_csv(session, actor, report)
    name = f"reconciliation-{report.supplier_id}-{report.id}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
