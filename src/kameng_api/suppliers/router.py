"""HTTP for suppliers: the staff console's routes (suppliers, credentials, connection test,
health, circuit, catalogue, SKU mappings, an order's upstream orders) and the suppliers'
public callback route."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id
from kameng_api.core.errors import AppError, error_responses
from kameng_api.core.redis import get_queue
from kameng_api.fulfilment import routing
from kameng_api.orders import service as orders
from kameng_api.rbac.deps import DbSession, Public, check_permission, require
from kameng_api.suppliers import breaker, service
from kameng_api.suppliers.adapter import BadCallback, SupplierUnavailable
from kameng_api.suppliers.models import Supplier, SupplierMapping
from kameng_api.suppliers.permissions import SuppliersPerm
from kameng_api.suppliers.schemas import (
    CatalogueItemOut,
    CircuitOut,
    HealthOut,
    MappingIn,
    MappingOut,
    MappingPatch,
    SupplierCallbackOut,
    SupplierIn,
    SupplierOut,
    SupplierPatch,
    TestOut,
    UpstreamOrderOut,
)

router = APIRouter(tags=["suppliers"])

Reader = Annotated[Actor, require(SuppliersPerm.read)]
Writer = Annotated[Actor, require(SuppliersPerm.write)]
MAX_CALLBACK_BYTES = 64 * 1024


class SupplierCallFailed(AppError):
    status = 502
    code = "supplier_unavailable"
    title = "Supplier unavailable"


class CallbackRefused(AppError):
    status = 401
    code = "bad_callback"
    title = "Callback refused"


def _out(sup: Supplier) -> SupplierOut:
    return SupplierOut(
        id=sup.id,
        name=sup.name,
        protocol=sup.protocol,
        base_url=sup.base_url,
        credential_fields=sorted(service.credentials(sup)),
        timeout_s=sup.timeout_s,
        enabled=sup.enabled,
        serves_unmapped=sup.serves_unmapped,
        settings_managed=sup.settings_managed,
        balance=sup.balance,
        balance_at=sup.balance_at,
        low_balance_threshold=sup.low_balance_threshold,
        last_error=sup.last_error,
        last_error_at=sup.last_error_at,
        created_at=sup.created_at,
        updated_at=sup.updated_at,
    )


def _circuit(c: breaker.CircuitState) -> CircuitOut:
    at = None if c.opened_at is None else datetime.fromtimestamp(c.opened_at, UTC)
    return CircuitOut(state=c.state, opened_at=at, calls=c.calls, errors=c.errors)


@router.get(
    "/suppliers",
    operation_id="suppliers:list",
    response_model=list[SupplierOut],
    responses=error_responses(401, 403),
)
async def list_suppliers(session: DbSession, _: Reader) -> list[SupplierOut]:
    """Every supplier (credentials never shown: only which fields are set)."""
    return [_out(s) for s in await service.list_suppliers(session)]


@router.post(
    "/suppliers",
    operation_id="suppliers:create",
    response_model=SupplierOut,
    status_code=201,
    responses=error_responses(401, 403, 409, 422),
)
async def create_supplier(body: SupplierIn, session: DbSession, actor: Writer) -> SupplierOut:
    """A new supplier; its base URL must pass the SSRF guard. Credentials given here need
    ``suppliers:credentials`` (with a fresh 2FA step-up)."""
    creds = body.credentials.values()
    if creds:
        await check_permission(actor, SuppliersPerm.credentials)
    fields = body.model_dump(exclude={"credentials"})
    sup = await service.create_supplier(session, actor, fields, creds)
    await session.flush()
    await session.refresh(sup)
    return _out(sup)


@router.get(
    "/suppliers/{supplier_id}",
    operation_id="suppliers:get",
    response_model=SupplierOut,
    responses=error_responses(401, 403, 404),
)
async def get_supplier(supplier_id: Id, session: DbSession, _: Reader) -> SupplierOut:
    return _out(await service.get_supplier(session, supplier_id))


@router.patch(
    "/suppliers/{supplier_id}",
    operation_id="suppliers:update",
    response_model=SupplierOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_supplier(
    supplier_id: Id, body: SupplierPatch, session: DbSession, actor: Writer
) -> SupplierOut:
    """Change a supplier. ``credentials`` replaces them all and needs
    ``suppliers:credentials`` (with a fresh 2FA step-up)."""
    creds = None if body.credentials is None else body.credentials.values()
    if creds is not None:
        await check_permission(actor, SuppliersPerm.credentials)
    sup = await service.get_supplier(session, supplier_id)
    fields = body.model_dump(exclude={"credentials"}, exclude_unset=True)
    fields = {k: v for k, v in fields.items() if v is not None or k == "low_balance_threshold"}
    sup = await service.update_supplier(session, actor, sup, fields, creds)
    await session.flush()
    await session.refresh(sup)
    return _out(sup)


@router.post(
    "/suppliers/{supplier_id}/test",
    operation_id="suppliers:test",
    response_model=TestOut,
    responses=error_responses(401, 403, 404),
)
async def test_supplier(supplier_id: Id, session: DbSession, actor: Writer) -> TestOut:
    """Test the connection: ask the supplier for our balance (kept; below the threshold
    raises an alert)."""
    sup = await service.get_supplier(session, supplier_id)
    t0 = time.monotonic()
    try:
        bal = await service.refresh_balance(session, sup)
        out = TestOut(ok=True, balance=bal, latency_ms=int((time.monotonic() - t0) * 1000))
    except SupplierUnavailable as exc:
        ms = int((time.monotonic() - t0) * 1000)
        out = TestOut(ok=False, error=str(exc)[:255], latency_ms=ms)
    await audit.record(
        session,
        "suppliers.test",
        actor=actor,
        target_type="supplier",
        target_id=sup.id,
        after={"ok": out.ok},
    )
    return out


@router.get(
    "/suppliers/{supplier_id}/health",
    operation_id="suppliers:health",
    response_model=HealthOut,
    responses=error_responses(401, 403, 404),
)
async def supplier_health(supplier_id: Id, session: DbSession, _: Reader) -> HealthOut:
    """Success rate and p50/p95 latency of the last 24 h of upstream orders, last error,
    balance and circuit."""
    h = await service.health(session, await service.get_supplier(session, supplier_id))
    return HealthOut(
        supplier_id=h.supplier_id,
        orders=h.orders,
        succeeded=h.succeeded,
        failed=h.failed,
        success_rate=h.success_rate,
        p50_latency_ms=h.p50_ms,
        p95_latency_ms=h.p95_ms,
        last_error=h.last_error,
        last_error_at=h.last_error_at,
        balance=h.balance,
        balance_at=h.balance_at,
        circuit=_circuit(h.circuit),
    )


@router.get(
    "/suppliers/{supplier_id}/circuit",
    operation_id="suppliers:circuit",
    response_model=CircuitOut,
    responses=error_responses(401, 403, 404),
)
async def supplier_circuit(supplier_id: Id, session: DbSession, _: Reader) -> CircuitOut:
    sup = await service.get_supplier(session, supplier_id)
    return _circuit(await breaker.state(sup.id))


@router.post(
    "/suppliers/{supplier_id}/circuit/reset",
    operation_id="suppliers:reset_circuit",
    response_model=CircuitOut,
    responses=error_responses(401, 403, 404),
)
async def reset_circuit(supplier_id: Id, session: DbSession, actor: Writer) -> CircuitOut:
    """Close the circuit by hand (the supplier is back)."""
    sup = await service.get_supplier(session, supplier_id)
    await service.reset_circuit(session, actor, sup)
    return _circuit(await breaker.state(sup.id))


@router.get(
    "/suppliers/{supplier_id}/catalogue",
    operation_id="suppliers:catalogue",
    response_model=list[CatalogueItemOut],
    responses=error_responses(401, 403, 404, 502),
)
async def supplier_catalogue(
    supplier_id: Id, session: DbSession, _: Reader
) -> list[CatalogueItemOut]:
    """The supplier's products with their cost, asked now."""
    sup = await service.get_supplier(session, supplier_id)
    try:
        items = await service.adapter_for(sup).catalogue()
    except SupplierUnavailable as exc:
        raise SupplierCallFailed(str(exc)[:255]) from exc
    return [
        CatalogueItemOut(
            product_id=i.product_id, name=i.name, cost=i.cost, kind=i.kind, available=i.available
        )
        for i in items
    ]


# ---- SKU mappings --------------------------------------------------------------------------


def _mapping(m: SupplierMapping) -> MappingOut:
    return MappingOut.model_validate(m)


@router.get(
    "/skus/{sku_id}/supplier-mappings",
    operation_id="suppliers:list_mappings",
    response_model=list[MappingOut],
    responses=error_responses(401, 403, 404),
)
async def list_mappings(sku_id: Id, session: DbSession, _: Reader) -> list[MappingOut]:
    """Which suppliers serve a SKU, in failover order (priority, lowest first)."""
    return [_mapping(m) for m in await service.list_mappings(session, sku_id)]


@router.post(
    "/skus/{sku_id}/supplier-mappings",
    operation_id="suppliers:create_mapping",
    response_model=MappingOut,
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_mapping(
    sku_id: Id, body: MappingIn, session: DbSession, actor: Writer
) -> MappingOut:
    m = await service.create_mapping(session, actor, sku_id, body.model_dump())
    await session.flush()
    await session.refresh(m)
    return _mapping(m)


@router.patch(
    "/skus/{sku_id}/supplier-mappings/{mapping_id}",
    operation_id="suppliers:update_mapping",
    response_model=MappingOut,
    responses=error_responses(401, 403, 404, 422),
)
async def update_mapping(
    sku_id: Id, mapping_id: Id, body: MappingPatch, session: DbSession, actor: Writer
) -> MappingOut:
    m = await service.get_mapping(session, sku_id, mapping_id)
    fields = body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in fields.items() if v is not None or k == "cost"}
    m = await service.update_mapping(session, actor, m, fields)
    await session.flush()
    await session.refresh(m)
    return _mapping(m)


@router.delete(
    "/skus/{sku_id}/supplier-mappings/{mapping_id}",
    operation_id="suppliers:delete_mapping",
    status_code=204,
    responses=error_responses(401, 403, 404),
)
async def delete_mapping(sku_id: Id, mapping_id: Id, session: DbSession, actor: Writer) -> Response:
    m = await service.get_mapping(session, sku_id, mapping_id)
    await service.delete_mapping(session, actor, m)
    return Response(status_code=204)


@router.get(
    "/admin/orders/{order_no}/upstream-orders",
    operation_id="suppliers:order_upstream",
    response_model=list[UpstreamOrderOut],
    responses=error_responses(401, 403, 404),
)
async def order_upstream(
    order_no: str, session: DbSession, actor: Reader
) -> list[UpstreamOrderOut]:
    """What an order asked of which supplier (for the order's detail)."""
    order = await orders.get_order(session, actor, order_no[:64])
    rows = await service.upstream_orders(session, order.id)
    return [UpstreamOrderOut.model_validate(u) for u in rows]


# ---- the suppliers' callbacks (public; signed) ---------------------------------------------


@router.post(
    "/suppliers/{supplier_id}/callback",
    operation_id="suppliers:callback",
    response_model=SupplierCallbackOut,
    responses=error_responses(401, 404, 413),
)
async def supplier_callback(
    supplier_id: Id, request: Request, session: DbSession, _: Public
) -> SupplierCallbackOut:
    """A supplier tells us what became of an order. The signature is checked with THAT
    supplier's credentials, and the notice must name a request id we sent to that supplier:
    anything else changes nothing. Replays change nothing."""
    sup = await session.get(Supplier, supplier_id)
    if sup is None:
        raise AppError("No such supplier.", code="unknown_supplier", status=404)
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise AppError("Notice too large.", code="callback_too_large", status=413)
    try:
        notice = service.adapter_for(sup).verify_callback(request.headers, body)
    except BadCallback as exc:
        raise CallbackRefused(str(exc)) from exc
    seen_key = f"kameng:supplier-callback:{sup.id}:{notice.event_id}" if notice.event_id else ""
    if seen_key and await get_queue().exists(seen_key):
        return SupplierCallbackOut(result="replayed")
    result = await routing.accept_notice(session, sup, notice)
    if seen_key:
        await get_queue().set(seen_key, "1", ex=900)
    await audit.record(
        session,
        "suppliers.callback",
        actor=None,
        target_type="supplier",
        target_id=sup.id,
        detail=f"{notice.request_id} {notice.state}: {result}"[:255],
    )
    return SupplierCallbackOut(result=result)
