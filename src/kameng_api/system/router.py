"""HTTP for the system capability: ``/healthz``, ``/readyz`` (root) and ``/api/v1/system``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Response

from kameng_api import __version__
from kameng_api.core import db
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import error_responses
from kameng_api.outbox import service as outbox
from kameng_api.rbac.deps import Public, require
from kameng_api.settings import get_settings
from kameng_api.system import service
from kameng_api.system.permissions import SettingsPerm
from kameng_api.system.schemas import (
    CheckOut,
    Liveness,
    OutboxOut,
    Readiness,
    SystemInfo,
    WorkerOut,
)

ops_router = APIRouter(tags=["system"])
router = APIRouter(prefix="/system", tags=["system"])


@ops_router.get("/healthz", operation_id="system:liveness", response_model=Liveness)
async def liveness(_: Public) -> Liveness:
    """The process is up (no dependencies checked)."""
    return Liveness()


@ops_router.get(
    "/readyz",
    operation_id="system:readiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
)
async def readiness(response: Response, _: Public) -> Readiness:
    """Ready to serve: PostgreSQL and Redis both answer. 503 names the one that failed."""
    dbc, rc = await asyncio.gather(service.check_database(db.get_engine()), service.check_redis())
    ok = dbc.ok and rc.ok
    if not ok:
        response.status_code = 503
    return Readiness(
        status="ok" if ok else "unavailable",
        checks={
            "database": CheckOut(**dbc.__dict__),
            "redis": CheckOut(**rc.__dict__),
        },
    )


@router.get(
    "/info",
    operation_id="system:info",
    response_model=SystemInfo,
    responses=error_responses(401, 403, 500),
)
async def system_info(_: Annotated[Actor, require(SettingsPerm.read)]) -> SystemInfo:
    """Version and health of every part: database, Redis, worker, background-job backlog."""
    settings = get_settings()
    dbc, rc, last_seen = await asyncio.gather(
        service.check_database(db.get_engine()), service.check_redis(), service.worker_last_seen()
    )
    outbox_out = None
    if dbc.ok:
        async with db.unit_of_work() as session:
            st = await outbox.stats(session)
        outbox_out = OutboxOut(**st.__dict__)
    now = clock.now()
    worker_ok = last_seen is not None and now - last_seen < timedelta(
        seconds=3 * settings.worker_health_interval_s
    )
    return SystemInfo(
        version=__version__,
        environment=settings.environment,
        server_time=now,
        database=CheckOut(**dbc.__dict__),
        redis=CheckOut(**rc.__dict__),
        worker=WorkerOut(ok=worker_ok, last_seen=last_seen),
        outbox=outbox_out,
    )
