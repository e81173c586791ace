"""Stored prices and buyers as ``catalog.pricing`` sees them, and the quote orders use. Prices
are computed only by ``catalog.pricing``; this module reads what it needs."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import pricing
from kameng_api.catalog.models import Sku, SkuAudiencePrice, SkuTierPrice
from kameng_api.core.actor import UserKind


async def load_prices(session: AsyncSession, sku_ids: list[int]) -> dict[int, pricing.SkuPrices]:
    """Price snapshots for the pricing function."""
    if not sku_ids:
        return {}
    rows = await session.execute(select(Sku.id, Sku.base_price).where(Sku.id.in_(sku_ids)))
    bases: dict[int, Decimal] = dict(rows.all())
    member: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    reseller: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    tiers: dict[int, dict[int, Decimal]] = {i: {} for i in sku_ids}
    for a in (
        await session.execute(select(SkuAudiencePrice).where(SkuAudiencePrice.sku_id.in_(sku_ids)))
    ).scalars():
        (member if a.audience == "member" else reseller)[a.sku_id][a.level] = a.price
    for t in (
        await session.execute(select(SkuTierPrice).where(SkuTierPrice.sku_id.in_(sku_ids)))
    ).scalars():
        tiers[t.sku_id][t.min_qty] = t.price
    return {
        i: pricing.SkuPrices(bases[i], member[i], reseller[i], tiers[i])
        for i in sku_ids
        if i in bases
    }


async def buyer(session: AsyncSession, user_id: int | None) -> pricing.Buyer:
    """Who is buying, as the pricing function sees them (``None``: a guest)."""
    if user_id is None:
        return pricing.Buyer.guest()
    from kameng_api.identity import service as identity

    user = await identity.get_user(session, user_id)
    return pricing.Buyer(
        kind=UserKind(user.kind), member_level=user.member_level, reseller_tier=user.reseller_tier
    )


# buyers as pricing sees them, read on the lane's own connection (asyncpg)
BUYERS_SQL = "SELECT id, kind, member_level, reseller_tier FROM users WHERE id = ANY($1)"


async def quote_sku(
    session: AsyncSession, sku_id: int, user_id: int | None, quantity: int
) -> pricing.Quote:
    """What this buyer pays for ``quantity`` of this SKU — the one answer orders use."""
    prices = await load_prices(session, [sku_id])
    return pricing.quote(prices[sku_id], await buyer(session, user_id), quantity)
