"""Demo balances: the demo customer and reseller start with money in their wallets, credited
by the demo finance user as a recorded adjustment (the ledger shows where it came from)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import Actor, UserKind
from kameng_api.demo import STEPS
from kameng_api.identity.models import User
from kameng_api.wallet import service

DEMO_BALANCES = {
    "customer@demo.kameng.example": Decimal("200"),
    "reseller@demo.kameng.example": Decimal("5000"),
}


async def seed_balances(session: AsyncSession) -> None:
    ids = dict(
        (
            await session.execute(
                select(User.email, User.id).where(
                    User.email.in_([*DEMO_BALANCES, "finance@demo.kameng.example"])
                )
            )
        ).all()
    )
    actor = Actor(
        user_id=ids["finance@demo.kameng.example"], kind=UserKind.staff, session_id="demo-seed"
    )
    for email, amount in DEMO_BALANCES.items():
        await service.adjust(session, actor, ids[email], amount, "演示余额 (demo balance)")


STEPS.append(("wallet.balances", seed_balances))
