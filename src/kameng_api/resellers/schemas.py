"""Pydantic in/out of the reseller's key management and of the open API ``/open/v1``."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from kameng_api.catalog.schemas import BuyerField
from kameng_api.core.bounds import Id, Int32
from kameng_api.core.money import Money, amount_limit, amount_schema

KeyName = Annotated[str, Field(max_length=64)]
Cidr = Annotated[str, Field(min_length=2, max_length=64)]
RatePerMin = Annotated[int, Field(ge=1, le=100_000)]
OutTradeNo = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _cidrs(values: list[str] | None) -> list[str] | None:
    """Each entry a CIDR or a single address, normalised (``10.0.0.1`` → ``10.0.0.1/32``)."""
    if values is None:
        return None
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(v.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {v!r}") from None
    return sorted(set(out))


class ResellerKeyIn(BaseModel):
    name: KeyName = ""
    ip_allowlist: list[Cidr] = Field(
        default_factory=list,
        max_length=50,
        description="CIDRs or addresses the key may be used from; empty: any address",
    )
    rate_limit_per_min: RatePerMin | None = Field(
        default=None, description="requests per minute (empty: the shop's default)"
    )

    @field_validator("ip_allowlist")
    @classmethod
    def _check(cls, v: list[str] | None) -> list[str] | None:
        return _cidrs(v)


class ResellerKeyUpdate(BaseModel):
    name: KeyName | None = None
    ip_allowlist: list[Cidr] | None = Field(default=None, max_length=50)
    rate_limit_per_min: RatePerMin | None = None

    @field_validator("ip_allowlist")
    @classmethod
    def _check(cls, v: list[str] | None) -> list[str] | None:
        return _cidrs(v)


class ResellerKeyOut(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    name: str
    app_id: str
    secret_hint: str = Field(description="the secret's last 4 characters")
    ip_allowlist: list[str]
    rate_limit_per_min: int
    status: Literal["active", "rotated", "expired", "revoked"]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = Field(description="set once rotated: the end of its grace")
    rotated_to_id: int | None


class ResellerKeyCreated(ResellerKeyOut):
    secret: str = Field(description="shown once: store it now, it cannot be read again")


class CallbackSettingsOut(BaseModel):
    callback_url: str | None
    has_webhook_secret: bool


class CallbackSettingsIn(BaseModel):
    callback_url: Annotated[str, Field(max_length=512)] | None = Field(
        description="http(s) URL our callbacks go to (empty: none); checked against SSRF rules"
    )


class WebhookSecretOut(BaseModel):
    webhook_secret: str = Field(description="``whsec_…``: shown once, store it now")


# ---- the open API -----------------------------------------------------------------------


class PingOut(BaseModel):
    app_id: str
    reseller_id: int
    server_time: datetime


class BalanceOut(BaseModel):
    balance: Money
    currency: str = "CNY"


class OpenCategory(BaseModel):
    id: int
    name: str
    parent_id: int | None


class OpenCategories(BaseModel):
    items: list[OpenCategory]


class OpenSku(BaseModel):
    id: int
    name: str
    price: Money = Field(description="your unit price (your reseller tier)")
    stock: int | None = Field(description="keys for sale; null: not limited")
    min_qty: int
    max_qty: int


class OpenProduct(BaseModel):
    id: int
    name: str
    category_id: int
    delivery_type: str
    buyer_fields: list[BuyerField]
    skus: list[OpenSku]


class OpenProducts(BaseModel):
    items: list[OpenProduct]
    next_cursor: str | None


MaxUnitPrice = Annotated[
    Decimal,
    Field(ge=0, le=amount_limit(12, 4), max_digits=16, decimal_places=4),
    amount_schema(places=4, int_digits=12, sign="not_negative"),
]


class OpenOrderIn(BaseModel):
    out_trade_no: OutTradeNo = Field(description="your order number: one order per number")
    sku_id: Id
    quantity: Int32 = Field(default=1, ge=1, le=10_000)
    buyer_input: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=20
    )
    callback_url: Annotated[str, Field(max_length=512)] | None = Field(
        default=None, description="this order's callbacks go here (else your account's URL)"
    )
    max_unit_price: MaxUnitPrice | None = Field(
        default=None, description="refused (409 price_changed) when our unit price is higher"
    )

    def digest_body(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        if self.max_unit_price is not None:
            body["max_unit_price"] = format(self.max_unit_price.normalize(), "f")
        return body


OpenStatus = Literal[
    "processing", "delivered", "partially_delivered", "failed", "refunded", "cancelled"
]


class OpenKey(BaseModel):
    card_no: str | None
    secret: str


class OpenOrderOut(BaseModel):
    order_no: str
    out_trade_no: str
    status: OpenStatus
    sku_id: int
    product_name: str
    sku_name: str
    quantity: int
    unit_price: Money
    total: Money
    created_at: datetime
    delivered_at: datetime | None
    keys: list[OpenKey] = Field(default_factory=list)
    message: str | None = None


class OpenOrders(BaseModel):
    items: list[OpenOrderOut]
    next_cursor: str | None
