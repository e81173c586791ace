from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_kind: str | None
    actor_name: str | None = Field(default=None, description="Email/phone of the actor now.")
    action: str
    target_type: str | None
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    result: str
    risk: str
    ip: str | None
    user_agent: str | None
    request_id: str | None
    detail: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_id: int | None
