"""Data every deployment needs, kept in sync after each migration (idempotent):
the built-in roles and their permissions."""

from __future__ import annotations

from kameng_api.core import db
from kameng_api.rbac import service as rbac


async def bootstrap(database_url: str) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with db.unit_of_work(async_sessionmaker(engine, expire_on_commit=False)) as session:
            await rbac.sync_builtin_roles(session)
    finally:
        await engine.dispose()
