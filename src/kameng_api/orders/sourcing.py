"""Card-key SKUs sourced upstream: a SKU with an enabled supplier mapping (enabled supplier)
is still sold when its stock is empty — the order is paid and goes to the supplier like a
direct recharge (``fulfilment/routing.py`` orders the keys and stores them).

``sourced`` asks the database; ``sourced_cached`` answers from a per-process cache
(``TTL_S``), like the sold-out gate, for the purchase paths that only need a hint: whether
to keep the sold-out answer (the lane), whether to raise the sold-out flag, whether the
route's claim runs in a savepoint of its own. The decision to go upstream always reads the
database.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core import db
from kameng_api.suppliers.models import Supplier, SupplierMapping

TTL_S = 5.0
_MAX = 50_000
_cache: dict[int, tuple[bool, float]] = {}


async def sourced(session: AsyncSession, sku_id: int) -> bool:
    q = (
        select(SupplierMapping.id)
        .join(Supplier, Supplier.id == SupplierMapping.supplier_id)
        .where(
            SupplierMapping.sku_id == sku_id,
            SupplierMapping.enabled.is_(True),
            Supplier.enabled.is_(True),
        )
        .limit(1)
    )
    found = (await session.execute(q)).scalar_one_or_none() is not None
    _remember(sku_id, found)
    return found


async def sourced_skus(session: AsyncSession, sku_ids: list[int]) -> set[int]:
    """Which of ``sku_ids`` are sourced upstream (one query; the shop's stock figure)."""
    if not sku_ids:
        return set()
    q = (
        select(SupplierMapping.sku_id)
        .join(Supplier, Supplier.id == SupplierMapping.supplier_id)
        .where(
            SupplierMapping.sku_id.in_(sku_ids),
            SupplierMapping.enabled.is_(True),
            Supplier.enabled.is_(True),
        )
        .distinct()
    )
    return set((await session.execute(q)).scalars())


def _remember(sku_id: int, found: bool) -> None:
    if len(_cache) >= _MAX:
        _cache.clear()
    _cache[sku_id] = (found, time.monotonic() + TTL_S)


async def sourced_cached(sku_id: int, session: AsyncSession | None = None) -> bool:
    hit = _cache.get(sku_id)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    if session is not None:
        return await sourced(session, sku_id)
    async with db.unit_of_work() as s:
        return await sourced(s, sku_id)


def forget(sku_id: int | None = None) -> None:
    """Drop the cached answer (a mapping changed in this process; tests)."""
    if sku_id is None:
        _cache.clear()
    else:
        _cache.pop(sku_id, None)
