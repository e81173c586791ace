"""Background work of payments: ask the gateway about payments whose notice never came."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.payments import service
from kameng_api.settings import get_settings


@periodic("payments:poll_pending", every_s=lambda: get_settings().payment_poll_every_s)
async def poll_pending(session: AsyncSession) -> None:
    await service.poll_pending(session, first_after_s=get_settings().payment_poll_first_s)
