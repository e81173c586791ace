"""Suppliers: their rows and encrypted credentials, which adapter speaks each protocol, which
suppliers serve a SKU and in what order (routing), health figures, balances, and the staff
operations on them (each recorded in the operation log).

The delivery job (``fulfilment/service.py``) asks :func:`routes` for a SKU's candidates and
talks to :func:`adapter_for`'s answer; it never chooses a protocol itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts import service as alerts
from kameng_api.audit import service as audit
from kameng_api.catalog import service as catalog
from kameng_api.core import db
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import Conflict, NotFound
from kameng_api.core.outbound import check_url
from kameng_api.core.security import decrypt_field, encrypt_field
from kameng_api.inventory.gate import clear_sold_out
from kameng_api.orders import sourcing
from kameng_api.settings import get_settings
from kameng_api.suppliers import breaker
from kameng_api.suppliers.adapter import NoSupplier, SupplierAdapter, SupplierUnavailable
from kameng_api.suppliers.fulu import FuluSupplier
from kameng_api.suppliers.http_json import HttpJsonSupplier
from kameng_api.suppliers.kameng import KamengSupplier
from kameng_api.suppliers.models import Supplier, SupplierMapping, UpstreamOrder

log = logging.getLogger("kameng.suppliers")

SETTINGS_SUPPLIER = "settings"  # the row seeded from KAMENG_RECHARGE_SUPPLIER_*
LOW_BALANCE = "supplier_low_balance"
ALL_FAILED = "supplier_all_failed"

Factory = Callable[[str, Mapping[str, Any], float], SupplierAdapter]
ADAPTERS: dict[str, Factory] = {
    "http_json": lambda url, cred, t: HttpJsonSupplier(url, cred, timeout_s=t),
    "fulu": lambda url, cred, t: FuluSupplier(url, cred, timeout_s=t),
    "kameng": lambda url, cred, t: KamengSupplier(url, cred, timeout_s=t),
}


# ---- credentials ---------------------------------------------------------------------------


def _aad(supplier: Supplier) -> str:
    return f"supplier:{supplier.id}:credentials"


def credentials(supplier: Supplier) -> dict[str, Any]:
    if not supplier.credentials_enc:
        return {}
    data = json.loads(decrypt_field(supplier.credentials_enc, aad=_aad(supplier)))
    return data if isinstance(data, dict) else {}


def set_credentials(supplier: Supplier, creds: Mapping[str, Any]) -> None:
    supplier.credentials_enc = encrypt_field(json.dumps(dict(creds)), aad=_aad(supplier))


def adapter_for(supplier: Supplier) -> SupplierAdapter:
    return ADAPTERS[supplier.protocol](supplier.base_url, credentials(supplier), supplier.timeout_s)


# ---- the supplier configured by settings ---------------------------------------------------


async def sync_settings_supplier(session: AsyncSession) -> Supplier | None:
    """The ``KAMENG_RECHARGE_SUPPLIER_*`` settings as a supplier row (protocol http_json,
    serving SKUs without mappings), created or brought up to date; None when not configured
    (an existing row is then disabled). Called at start-up, by the seed and by routing, so a
    changed setting takes effect without a second code path."""
    s = get_settings()
    q = select(Supplier).where(Supplier.name == SETTINGS_SUPPLIER)
    row = (await session.execute(q)).scalar_one_or_none()
    if not s.recharge_supplier_url:
        if row is not None and row.enabled:
            row.enabled = False
        return None
    creds = {"secret": s.recharge_supplier_secret.get_secret_value()}
    if row is not None and (
        row.base_url == s.recharge_supplier_url
        and row.timeout_s == s.recharge_supplier_timeout_s
        and row.enabled
        and credentials(row) == creds
    ):
        return row  # up to date: no lock, no write (every delivery job asks)
    if row is None:
        ins = (
            insert(Supplier)
            .values(
                name=SETTINGS_SUPPLIER,
                protocol="http_json",
                base_url=s.recharge_supplier_url,
                timeout_s=s.recharge_supplier_timeout_s,
                serves_unmapped=True,
                settings_managed=True,
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        await session.execute(ins)
    row = (await session.execute(q.with_for_update())).scalar_one()
    row.base_url = s.recharge_supplier_url
    row.timeout_s = s.recharge_supplier_timeout_s
    row.enabled = True
    set_credentials(row, creds)
    return row


# ---- routing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    supplier: Supplier
    mapping: SupplierMapping | None  # None: the supplier serves unmapped SKUs
    product_id: str
    cost: Decimal | None


async def routes(
    session: AsyncSession, sku_id: int, sku_name: str, *, mapped_only: bool = False
) -> list[Route]:
    """The suppliers that may serve ``sku_id``, in failover order: its enabled mappings by
    priority (enabled suppliers only); with no mapping at all, the suppliers serving unmapped
    SKUs (the settings one; the caller keeps it in sync first) — unless ``mapped_only`` (card
    keys are bought only where a mapping says so). Circuits are checked by the caller, at
    call time."""
    rows = (
        await session.execute(
            select(SupplierMapping, Supplier)
            .join(Supplier, Supplier.id == SupplierMapping.supplier_id)
            .where(SupplierMapping.sku_id == sku_id)
            .order_by(SupplierMapping.priority, SupplierMapping.id)
        )
    ).all()
    if rows:
        return [
            Route(sup, m, m.supplier_product_id, m.cost)
            for m, sup in rows
            if m.enabled and sup.enabled
        ]
    if mapped_only:
        return []
    fallback = (
        await session.execute(
            select(Supplier)
            .where(Supplier.serves_unmapped.is_(True), Supplier.enabled.is_(True))
            .order_by(Supplier.id)
        )
    ).scalars()
    found = [Route(sup, None, sku_name, None) for sup in fallback]
    if not found:
        raise NoSupplier("未配置直充上游 (no supplier serves this SKU)")
    return found


def request_id(order_no: str, delivery_attempt: int, supplier_id: int) -> str:
    """Our idempotency key at a supplier: the same on every retry of one (order, attempt,
    supplier), so a repeated call can never order twice."""
    return f"{order_no}-{delivery_attempt}-{supplier_id}"


# ---- staff operations ----------------------------------------------------------------------


async def get_supplier(session: AsyncSession, supplier_id: int) -> Supplier:
    sup = await session.get(Supplier, supplier_id)
    if sup is None:
        raise NotFound("No such supplier.", code="unknown_supplier")
    return sup


async def list_suppliers(session: AsyncSession) -> list[Supplier]:
    return list((await session.execute(select(Supplier).order_by(Supplier.id))).scalars())


def _public(sup: Supplier) -> dict[str, Any]:
    return {
        "name": sup.name,
        "protocol": sup.protocol,
        "base_url": sup.base_url,
        "timeout_s": sup.timeout_s,
        "enabled": sup.enabled,
        "serves_unmapped": sup.serves_unmapped,
        "low_balance_threshold": str(sup.low_balance_threshold)
        if sup.low_balance_threshold is not None
        else None,
    }


async def create_supplier(
    session: AsyncSession, actor: Actor, fields: dict[str, Any], creds: dict[str, Any]
) -> Supplier:
    await check_url(fields["base_url"])
    if (
        await session.execute(select(Supplier.id).where(Supplier.name == fields["name"]))
    ).scalar_one_or_none() is not None:
        raise Conflict("已有同名上游 (a supplier with this name exists)", code="supplier_exists")
    sup = Supplier(**fields)
    session.add(sup)
    await session.flush()
    set_credentials(sup, creds)
    await audit.record(
        session,
        "suppliers.create",
        actor=actor,
        target_type="supplier",
        target_id=sup.id,
        after={**_public(sup), "credentials": sorted(creds)},  # names only, never values
    )
    return sup


async def update_supplier(
    session: AsyncSession,
    actor: Actor,
    sup: Supplier,
    fields: dict[str, Any],
    creds: dict[str, Any] | None,
) -> Supplier:
    before = _public(sup)
    managed = {"base_url", "timeout_s", "name"} & fields.keys()
    if sup.settings_managed and (managed or creds is not None):
        raise Conflict(
            "该上游由配置 KAMENG_RECHARGE_SUPPLIER_* 管理 (set by settings; change them there)",
            code="settings_managed",
        )
    if "base_url" in fields and fields["base_url"] != sup.base_url:
        await check_url(fields["base_url"])
    if "name" in fields and fields["name"] != sup.name:
        taken = (
            await session.execute(select(Supplier.id).where(Supplier.name == fields["name"]))
        ).scalar_one_or_none()
        if taken is not None:
            raise Conflict(
                "已有同名上游 (a supplier with this name exists)", code="supplier_exists"
            )
    for k, v in fields.items():
        setattr(sup, k, v)
    after: dict[str, Any] = _public(sup)
    if creds is not None:
        set_credentials(sup, creds)
        after["credentials"] = sorted(creds)
    sup.updated_at = clock.now()
    await audit.record(
        session,
        "suppliers.credentials" if creds is not None else "suppliers.update",
        actor=actor,
        target_type="supplier",
        target_id=sup.id,
        before=before,
        after=after,
        risk="high" if creds is not None else "low",
    )
    return sup


async def refresh_balance(session: AsyncSession, sup: Supplier) -> Decimal:
    """Ask the supplier for our balance; keep it; below the threshold → an alert row."""
    try:
        bal = await adapter_for(sup).balance()
    except SupplierUnavailable as exc:
        sup.last_error, sup.last_error_at = f"balance: {exc}"[:255], clock.now()
        raise
    sup.balance, sup.balance_at = bal, clock.now()
    subject = f"supplier:{sup.id}"
    if sup.low_balance_threshold is not None and bal < sup.low_balance_threshold:
        await alerts.raise_alert(
            session,
            LOW_BALANCE,
            subject,
            f"上游 {sup.name} 余额 {bal} 低于 {sup.low_balance_threshold}",
            detail={"balance": str(bal), "threshold": str(sup.low_balance_threshold)},
        )
    else:
        await alerts.resolve_alert(session, LOW_BALANCE, subject)
    return bal


async def refresh_balances(session: AsyncSession) -> int:
    n = 0
    for sup in await list_suppliers(session):
        if not sup.enabled:
            continue
        try:
            await refresh_balance(session, sup)
            n += 1
        except SupplierUnavailable as exc:
            log.warning("balance of supplier %s: %s", sup.id, exc)
    return n


@dataclass(frozen=True)
class Health:
    supplier_id: int
    orders: int
    succeeded: int
    failed: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    last_error: str | None
    last_error_at: Any
    balance: Decimal | None
    balance_at: Any
    circuit: breaker.CircuitState


async def health(session: AsyncSession, sup: Supplier, *, hours: int = 24) -> Health:
    since = clock.now() - timedelta(hours=hours)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(UpstreamOrder.state == "success"),
                func.count().filter(UpstreamOrder.state == "failed"),
                func.percentile_cont(0.5).within_group(UpstreamOrder.latency_ms),
                func.percentile_cont(0.95).within_group(UpstreamOrder.latency_ms),
            ).where(UpstreamOrder.supplier_id == sup.id, UpstreamOrder.created_at >= since)
        )
    ).one()
    total, ok, bad, p50, p95 = row
    settled = ok + bad
    return Health(
        sup.id,
        total,
        ok,
        bad,
        round(ok / settled, 4) if settled else None,
        None if p50 is None else float(p50),
        None if p95 is None else float(p95),
        sup.last_error,
        sup.last_error_at,
        sup.balance,
        sup.balance_at,
        await breaker.state(sup.id),
    )


async def reset_circuit(session: AsyncSession, actor: Actor, sup: Supplier) -> None:
    await breaker.reset(sup.id)
    await audit.record(
        session, "suppliers.circuit_reset", actor=actor, target_type="supplier", target_id=sup.id
    )


# ---- mappings ------------------------------------------------------------------------------


async def list_mappings(session: AsyncSession, sku_id: int) -> list[SupplierMapping]:
    await catalog.get_sku(session, sku_id)
    q = (
        select(SupplierMapping)
        .where(SupplierMapping.sku_id == sku_id)
        .order_by(SupplierMapping.priority, SupplierMapping.id)
    )
    return list((await session.execute(q)).scalars())


async def get_mapping(session: AsyncSession, sku_id: int, mapping_id: int) -> SupplierMapping:
    m = await session.get(SupplierMapping, mapping_id)
    if m is None or m.sku_id != sku_id:
        raise NotFound("No such mapping.", code="unknown_mapping")
    return m


def _mapping_public(m: SupplierMapping) -> dict[str, Any]:
    return {
        "sku_id": m.sku_id,
        "supplier_id": m.supplier_id,
        "supplier_product_id": m.supplier_product_id,
        "cost": None if m.cost is None else str(m.cost),
        "priority": m.priority,
        "enabled": m.enabled,
    }


async def create_mapping(
    session: AsyncSession, actor: Actor, sku_id: int, fields: dict[str, Any]
) -> SupplierMapping:
    await catalog.get_sku(session, sku_id)
    await get_supplier(session, fields["supplier_id"])
    taken = (
        await session.execute(
            select(SupplierMapping.id).where(
                SupplierMapping.sku_id == sku_id,
                SupplierMapping.supplier_id == fields["supplier_id"],
            )
        )
    ).scalar_one_or_none()
    if taken is not None:
        raise Conflict("该 SKU 已对接此上游 (already mapped)", code="mapping_exists")
    m = SupplierMapping(sku_id=sku_id, **fields)
    session.add(m)
    await session.flush()
    await audit.record(
        session,
        "suppliers.mapping_create",
        actor=actor,
        target_type="supplier_mapping",
        target_id=m.id,
        after=_mapping_public(m),
    )
    _mapping_changed(session, sku_id)
    return m


def _mapping_changed(session: AsyncSession, sku_id: int) -> None:
    """A card-key SKU may now be (or no longer be) sourced upstream: forget the cached answer
    and, after commit, the sold-out flag (buyers may come back)."""
    sourcing.forget(sku_id)
    db.after_commit(session, lambda: clear_sold_out([sku_id]))


async def update_mapping(
    session: AsyncSession, actor: Actor, m: SupplierMapping, fields: dict[str, Any]
) -> SupplierMapping:
    before = _mapping_public(m)
    for k, v in fields.items():
        setattr(m, k, v)
    m.updated_at = clock.now()
    await audit.record(
        session,
        "suppliers.mapping_update",
        actor=actor,
        target_type="supplier_mapping",
        target_id=m.id,
        before=before,
        after=_mapping_public(m),
    )
    _mapping_changed(session, m.sku_id)
    return m


async def delete_mapping(session: AsyncSession, actor: Actor, m: SupplierMapping) -> None:
    before = _mapping_public(m)
    await session.delete(m)
    await audit.record(
        session,
        "suppliers.mapping_delete",
        actor=actor,
        target_type="supplier_mapping",
        target_id=m.id,
        before=before,
    )
    sourcing.forget(m.sku_id)


async def upstream_orders(session: AsyncSession, order_id: int) -> list[UpstreamOrder]:
    q = select(UpstreamOrder).where(UpstreamOrder.order_id == order_id).order_by(UpstreamOrder.id)
    return list((await session.execute(q)).scalars())


async def find_upstream(
    session: AsyncSession, supplier_id: int, request_id: str
) -> UpstreamOrder | None:
    q = select(UpstreamOrder).where(
        UpstreamOrder.supplier_id == supplier_id, UpstreamOrder.request_id == request_id
    )
    return (await session.execute(q)).scalar_one_or_none()
