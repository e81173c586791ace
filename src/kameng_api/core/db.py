"""Async engine and the one unit of work.

A request gets one :class:`AsyncSession` from :func:`session_dep`; it commits when the handler
returns and rolls back on error. Jobs use :func:`unit_of_work` the same way. Services never
commit; they ``flush()`` when they need ids. Code that must act only once the transaction is
durable (e.g. pushing outbox rows to Redis) registers :func:`after_commit` callbacks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from kameng_api.settings import Settings, get_settings

log = logging.getLogger("kameng.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


AfterCommit = Callable[[], Awaitable[None]]

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def make_engine(settings: Settings, role: str = "kameng", **overrides: Any) -> AsyncEngine:
    """``role`` names the process's connections in ``pg_stat_activity`` (application_name):
    kameng-api, kameng-worker, kameng-cli."""
    if not settings.database_url:
        raise RuntimeError("database_url is not configured (run through `kameng run`, or set it)")
    kwargs: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        "echo": settings.db_echo,
        "connect_args": {"server_settings": {"application_name": role}},
    }
    kwargs.update(overrides)
    engine = create_async_engine(settings.database_url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine, "checkin", _checked_in)
        event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


# A connection that sat in the pool may have died (a database restart). SQLAlchemy's
# ``pool_pre_ping`` checks on every checkout — with asyncpg that is three round trips (BEGIN,
# a ping, ROLLBACK) per request, more than a whole purchase needs. We ping only a connection
# that sat idle a while; a dead one is replaced before the request sees it.
PING_IF_IDLE_S = 10.0


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_S:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # the pool retries with a fresh connection
        raise DisconnectionError("the pooled connection is gone") from exc


def init_engine(
    settings: Settings | None = None, role: str = "kameng", **overrides: Any
) -> AsyncEngine:
    global _engine, _sessionmaker
    if _engine is None:
        _engine = make_engine(settings or get_settings(), role, **overrides)
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def get_engine() -> AsyncEngine:
    return init_engine()


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None


def sessionmaker() -> async_sessionmaker[AsyncSession]:
    init_engine()
    assert _sessionmaker is not None
    return _sessionmaker


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for cb in callbacks:
        try:
            await cb()
        except Exception:  # the transaction is durable; sweepers repair what this missed
            log.exception("after-commit callback failed")


@asynccontextmanager
async def unit_of_work(
    maker: async_sessionmaker[AsyncSession] | None = None,
) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then after-commit callbacks."""
    async with (maker or sessionmaker())() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise
    await _run_after_commit(session)


async def session_dep() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's unit of work."""
    async with unit_of_work() as session:
        yield session
