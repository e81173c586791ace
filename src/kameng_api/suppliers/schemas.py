"""What the suppliers API accepts and answers. Credentials are write-only: no answer carries
them (only which fields are set)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kameng_api.catalog.schemas import Price
from kameng_api.core.bounds import Id, Int32
from kameng_api.core.money import Money

Protocol = Literal["kameng", "fulu", "http_json"]
Name = Annotated[str, Field(min_length=1, max_length=64)]
Url = Annotated[
    str,
    Field(
        min_length=8,
        max_length=512,
        pattern=r"^https?://\S+$",
        description="http(s) URL; must pass the SSRF guard (public addresses only).",
    ),
]
Timeout = Annotated[float, Field(gt=0, le=12)]


class CredentialsIn(BaseModel):
    """http_json: ``secret``; fulu: ``app_key``, ``app_secret``; kameng: ``app_id``,
    ``secret``, ``webhook_secret``."""

    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(default=None, max_length=256)
    app_key: str | None = Field(default=None, max_length=256)
    app_secret: str | None = Field(default=None, max_length=256)
    app_id: str | None = Field(default=None, max_length=256)
    webhook_secret: str | None = Field(default=None, max_length=256)

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SupplierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    protocol: Protocol
    base_url: Url
    credentials: CredentialsIn = Field(default_factory=CredentialsIn)
    timeout_s: Timeout = 8.0
    enabled: bool = True
    serves_unmapped: bool = False
    low_balance_threshold: Price | None = None


class SupplierPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    base_url: Url | None = None
    credentials: CredentialsIn | None = Field(
        default=None, description="Replaces all credentials; needs suppliers:credentials."
    )
    timeout_s: Timeout | None = None
    enabled: bool | None = None
    serves_unmapped: bool | None = None
    low_balance_threshold: Price | None = None


class SupplierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    protocol: Protocol
    base_url: str
    credential_fields: list[str] = Field(description="Which credentials are set (never values).")
    timeout_s: float
    enabled: bool
    serves_unmapped: bool
    settings_managed: bool
    balance: Money | None
    balance_at: datetime | None
    low_balance_threshold: Money | None
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CircuitOut(BaseModel):
    state: Literal["closed", "open", "half_open"]
    opened_at: datetime | None
    calls: int = Field(description="Calls in the breaker's window.")
    errors: int


class HealthOut(BaseModel):
    supplier_id: int
    orders: int = Field(description="Upstream orders in the last 24 h.")
    succeeded: int
    failed: int
    success_rate: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    last_error: str | None
    last_error_at: datetime | None
    balance: Money | None
    balance_at: datetime | None
    circuit: CircuitOut


class TestOut(BaseModel):
    ok: bool
    balance: Money | None = None
    error: str | None = None
    latency_ms: int


class CatalogueItemOut(BaseModel):
    product_id: str
    name: str
    cost: Money | None
    kind: str
    available: bool


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_id: Id
    supplier_product_id: str = Field(min_length=1, max_length=64)
    cost: Price | None = None
    priority: Int32 = 100
    enabled: bool = True


class MappingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_product_id: str | None = Field(default=None, min_length=1, max_length=64)
    cost: Price | None = None
    priority: Int32 | None = None
    enabled: bool | None = None


class MappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    sku_id: int
    supplier_id: int
    supplier_product_id: str
    cost: Money | None
    priority: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


class UpstreamOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    supplier_id: int
    mapping_id: int | None
    delivery_attempt: int
    request_id: str
    supplier_product_id: str
    supplier_ref: str | None
    state: str
    cost: Money | None
    latency_ms: int | None
    calls: int
    last_error: str | None
    never_reached: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class SupplierCallbackOut(BaseModel):
    result: str
