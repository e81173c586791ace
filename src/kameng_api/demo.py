"""The demo shop's steps, a registry the capabilities write into: each step runs once.

Each capability's ``demo.py`` appends its steps to :data:`STEPS` (users for every built-in
role, categories, products, keys …) when ``seed.py`` loads it. A :class:`SeedMark` row per
step makes a second run a no-op, so operators' edits to demo data are never overwritten.
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


async def run_steps(session: AsyncSession) -> list[str]:
    """Run the registered steps not yet recorded (``seed.py`` registers them first). Returns
    the names of the steps that ran."""
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
