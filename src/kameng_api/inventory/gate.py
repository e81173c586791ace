"""The sold-out gate: Redis flags for SKUs whose last claim found no key.

When a claim finds no key, the SKU is flagged sold out in Redis; buyers of a flagged SKU are
answered ``sold_out`` before any database work (orders/lane.py). The flag only ever follows
the database saying "none left"; adding stock clears it after commit, and every fold run
(5 s) clears any flag whose SKU has keys again (an import that committed between a claim
finding none and its flag). It also expires by itself. A short expiry would send every
waiting buyer to the database at once each time it lapsed; with Redis away every buyer
simply goes to the database.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.inventory.models import CardKey
from kameng_api.suppliers.models import Supplier, SupplierMapping

log = logging.getLogger("kameng.inventory")

SOLD_OUT_FLAG_MS = 60_000


SOLD_OUT_SET = "inventory:soldout"  # the SKU ids flagged (a set, so rechecks need no SCAN)


def sold_out_key(sku_id: int) -> str:
    return f"{SOLD_OUT_SET}:{sku_id}"


async def mark_sold_out(sku_id: int) -> None:
    from kameng_api.core.redis import get_queue

    try:
        pipe = get_queue().pipeline(transaction=False)
        pipe.set(sold_out_key(sku_id), b"1", px=SOLD_OUT_FLAG_MS)
        pipe.sadd(SOLD_OUT_SET, str(sku_id))
        await pipe.execute()
    except Exception:  # a hint only
        log.debug("could not flag sold out", exc_info=True)


async def clear_sold_out(sku_ids: list[int]) -> None:
    from kameng_api.core.redis import get_queue

    if not sku_ids:
        return
    try:
        pipe = get_queue().pipeline(transaction=False)
        pipe.delete(*[sold_out_key(s) for s in sku_ids])
        pipe.srem(SOLD_OUT_SET, *[str(s) for s in sku_ids])
        await pipe.execute()
    except Exception:  # the flag expires by itself
        log.debug("could not clear the sold-out flag", exc_info=True)


async def recheck_sold_out(session: AsyncSession) -> list[int]:
    """Clear the sold-out flags of SKUs that have keys for sale or are sourced upstream
    (returns them); forget SKUs whose flag expired."""
    from kameng_api.core.redis import get_queue

    try:
        queue = get_queue()
        flagged = [int(m) for m in await queue.smembers(SOLD_OUT_SET)]  # type: ignore[misc]
        if flagged:
            up = await queue.mget([sold_out_key(s) for s in flagged])
            lapsed = [s for s, v in zip(flagged, up, strict=True) if v is None]
            if lapsed:
                await queue.srem(SOLD_OUT_SET, *[str(s) for s in lapsed])  # type: ignore[misc]
            flagged = [s for s in flagged if s not in lapsed]
    except Exception:  # Redis away: no flag is answering buyers either
        return []
    if not flagged:
        return []
    back = list(
        (
            await session.execute(
                select(CardKey.sku_id)
                .where(CardKey.sku_id.in_(flagged), CardKey.state == "available")
                .distinct()
            )
        ).scalars()
    )
    sourced = (  # sold upstream when empty (orders/sourcing.py): never sold out
        await session.execute(
            select(SupplierMapping.sku_id)
            .join(Supplier, Supplier.id == SupplierMapping.supplier_id)
            .where(
                SupplierMapping.sku_id.in_(flagged),
                SupplierMapping.enabled.is_(True),
                Supplier.enabled.is_(True),
            )
            .distinct()
        )
    ).scalars()
    back = sorted(set(back) | set(sourced))
    await clear_sold_out(back)
    return back
