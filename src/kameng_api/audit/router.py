"""HTTP for the operation log: filterable list and CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from kameng_api.audit import service
from kameng_api.audit.models import AuditLog
from kameng_api.audit.permissions import AuditPerm
from kameng_api.audit.schemas import AuditEntryOut, AuditPage
from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id, IsoDateTime
from kameng_api.core.clock import clock
from kameng_api.core.errors import error_responses
from kameng_api.rbac.deps import DbSession, require

router = APIRouter(prefix="/audit-log", tags=["audit"])

EXPORT_MAX_ROWS = 100_000


def _filter(
    actor_id: Id | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    result: Annotated[str | None, Query(max_length=16)] = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
) -> service.AuditFilter:
    return service.AuditFilter(actor_id, action, target_type, target_id, since, until, result)


def _out(e: AuditLog, names: dict[int, str] | None = None) -> AuditEntryOut:
    return AuditEntryOut(
        id=e.id,
        at=e.at,
        actor_id=e.actor_id,
        actor_kind=e.actor_kind,
        actor_name=(names or {}).get(e.actor_id) if e.actor_id is not None else None,
        action=e.action,
        target_type=e.target_type,
        target_id=e.target_id,
        before=e.before,
        after=e.after,
        result=e.result,
        risk=e.risk,
        ip=str(e.ip) if e.ip else None,
        user_agent=e.user_agent,
        request_id=e.request_id,
        detail=e.detail,
    )


@router.get(
    "",
    operation_id="audit:list",
    response_model=AuditPage,
    responses=error_responses(401, 403, 422),
)
async def list_entries(
    session: DbSession,
    actor: Annotated[Actor, require(AuditPerm.read)],
    actor_id: Id | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    result: Annotated[str | None, Query(max_length=16)] = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Newest first. Filter by actor, action (prefix), target, result and time."""
    f = _filter(actor_id, action, target_type, target_id, result, since, until)
    rows = await service.list_entries(session, f, before_id=before_id, limit=limit)
    from kameng_api.identity import service as identity  # local: identity imports audit

    names = await identity.login_names(session, {e.actor_id for e in rows if e.actor_id})
    return AuditPage(
        items=[_out(e, names) for e in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get(
    "/export",
    operation_id="audit:export",
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 with BOM)"},
        **error_responses(401, 403, 422),
    },
)
async def export_entries(
    session: DbSession,
    actor: Annotated[Actor, require(AuditPerm.export)],
    actor_id: Id | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    result: Annotated[str | None, Query(max_length=16)] = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
) -> StreamingResponse:
    """CSV of the filtered log (newest first, at most 100,000 rows). Cells that would start a
    spreadsheet formula are prefixed with a quote."""
    f = _filter(actor_id, action, target_type, target_id, result, since, until)
    rows = [chunk async for chunk in service.export_csv(session, f, EXPORT_MAX_ROWS)]
    await service.record(
        session, "audit.export", actor=actor, detail=f"{len(rows) - 1} rows", risk="medium"
    )
    name = f"operation-log-{clock.now():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        iter(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
