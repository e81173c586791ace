"""Background work of the catalog: the list/unlist schedule."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import service
from kameng_api.core.clock import clock
from kameng_api.core.periodic import periodic


@periodic("catalog:apply_schedules", every_s=15)
async def apply_schedules(session: AsyncSession) -> None:
    await service.apply_schedules(session, clock.now())
