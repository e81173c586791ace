"""Supplier upkeep: every enabled supplier's balance, asked periodically (below its
threshold → an alert row)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.periodic import periodic
from kameng_api.settings import get_settings
from kameng_api.suppliers import service


@periodic("suppliers:refresh_balances", every_s=lambda: get_settings().supplier_balance_every_s)
async def refresh_balances(session: AsyncSession) -> None:
    await service.refresh_balances(session)
