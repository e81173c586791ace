"""Who is calling: the authenticated principal every service receives for writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class UserKind(StrEnum):
    staff = "staff"
    customer = "customer"
    reseller = "reseller"


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Actor:
    user_id: int
    kind: UserKind
    session_id: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    mfa_enabled: bool = False
    mfa_verified_at: datetime | None = None
    must_change_password: bool = False
    meta: RequestMeta = field(default_factory=RequestMeta)

    def has(self, permission: str) -> bool:
        return permission in self.permissions
