"""The demo shop seeded by ``kameng run`` / ``kameng seed-demo``: idempotent, runs once.

Each capability adds its demo rows in :func:`seed_demo` as it lands (users for every built-in
role, categories, products, keys …). A :class:`SeedMark` row per step makes a second run a
no-op, so operators' edits to demo data are never overwritten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base


class SeedMark(Base):
    __tablename__ = "seed_marks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    seeded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class DemoLogin:
    role: str
    login: str
    password: str


Step = Callable[[AsyncSession], Awaitable[None]]

# (name, step) in order; a step runs once per database.
STEPS: list[tuple[str, Step]] = []

# Shown by `kameng run`; each capability that seeds users appends here.
DEMO_LOGINS: list[DemoLogin] = []

# Modules that add steps when imported (in order).
DEMO_MODULES = [
    "kameng_api.identity.demo",
    "kameng_api.catalog.demo",
    "kameng_api.inventory.demo",
    "kameng_api.wallet.demo",
]


def load_steps() -> None:
    import importlib

    for name in DEMO_MODULES:
        importlib.import_module(name)


async def seed_demo(session: AsyncSession) -> list[str]:
    """Run the steps not yet recorded. Returns the names of the steps that ran."""
    load_steps()
    ran: list[str] = []
    for name, step in STEPS:
        claimed = (
            await session.execute(
                insert(SeedMark).values(name=name).on_conflict_do_nothing().returning(SeedMark.name)
            )
        ).scalar_one_or_none()
        if claimed is None:
            continue
        await step(session)
        ran.append(name)
    return ran


async def seeded_steps(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(SeedMark.name).order_by(SeedMark.name))).scalars())
