from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class CheckOut(BaseModel):
    ok: bool
    latency_ms: float | None = Field(default=None, description="Round trip in milliseconds.")
    error: str | None = Field(default=None, description="Error class when not ok.")


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckOut] = Field(description="database, redis")


class WorkerOut(BaseModel):
    ok: bool = Field(description="A worker reported itself alive recently.")
    last_seen: datetime | None = None


class OutboxOut(BaseModel):
    pending: int = Field(description="Background jobs written but not yet done.")
    failed: int = Field(description="Jobs that exhausted their retries.")
    oldest_pending_age_s: float | None = None


class SystemInfo(BaseModel):
    name: str = "kameng"
    version: str
    environment: str
    server_time: datetime
    database: CheckOut
    redis: CheckOut
    worker: WorkerOut
    outbox: OutboxOut | None = Field(default=None, description="Absent when the database is down.")
