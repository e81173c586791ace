"""Background work of orders: expire unpaid ones, deliver (or refund) those waiting for stock."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.orders import idempotency, service


@periodic("orders:expire_unpaid", every_s=60)
async def expire_unpaid(session: AsyncSession) -> None:
    await service.expire_unpaid(session)


@periodic("orders:fulfil_awaiting", every_s=20)
async def fulfil_awaiting(session: AsyncSession) -> None:
    await service.fulfil_awaiting(session)


@periodic("orders:purge_idempotency", every_s=600)
async def purge_idempotency(session: AsyncSession) -> None:
    await idempotency.purge(session)
