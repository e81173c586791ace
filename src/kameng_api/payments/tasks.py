"""Background work of payments: ask the gateway about payments whose notice never came."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.payments import service


@periodic("payments:poll_pending", every_s=30)
async def poll_pending(session: AsyncSession) -> None:
    await service.poll_pending(session)
