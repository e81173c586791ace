from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kameng_api.core.bounds import Id, Int32
from kameng_api.core.money import Money, amount_limit, amount_schema

OrderStatus = Literal[
    "pending_payment",
    "paid",
    "delivering",
    "delivered",
    "partially_delivered",
    "failed",
    "refunded",
    "expired",
]


class OrderIn(BaseModel):
    sku_id: Id
    quantity: Int32 = Field(default=1, ge=1, le=10_000)
    pay_method: Literal["balance", "epay"] = Field(
        default="balance",
        description="balance: paid from the wallet at once; epay: pay at ``pay_url`` "
        "(the order is paid and delivered when the gateway's notice arrives)",
    )
    buyer_input: dict[str, Any] = Field(
        default_factory=dict, max_length=20, description="the product's buyer fields"
    )


class DeliveredKeyOut(BaseModel):
    card_no: str | None
    secret: str


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_no: str
    status: OrderStatus
    product_id: int
    sku_id: int
    product_name: str
    sku_name: str
    delivery_type: str
    quantity: int
    unit_price: Money
    total: Money
    price_rule: str
    pay_method: str | None
    buyer_input: dict[str, Any]
    delivered_qty: int
    awaiting_stock: bool
    refunded_total: Money
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    delivered_at: datetime | None
    keys: list[DeliveredKeyOut] = Field(
        default_factory=list, description="the card keys, for the buyer (empty in lists)"
    )
    pay_url: str | None = Field(
        default=None, description="where to pay, while a gateway payment is pending"
    )
    delivery_content: str | None = Field(
        default=None, description="manual products: what staff delivered (the buyer's view)"
    )


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_before: int | None


class AdminOrderPage(BaseModel):
    items: list[AdminOrderOut]
    next_before: int | None


class OrderEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor_id: int | None
    reason: str
    created_at: datetime


class AdminOrderOut(OrderOut):
    buyer_id: int
    buyer_login: str | None = Field(default=None, description="the buyer's email or phone")
    supplier_ref: str | None = Field(description="the supplier's order number (直充)")
    delivery_attempt: int
    notified_at: datetime | None
    timeline: list[OrderEventOut] = Field(default_factory=list)


RefundAmount = Annotated[
    Decimal,
    Field(gt=0, le=amount_limit(12, 4), max_digits=16, decimal_places=4),
    amount_schema(places=4, int_digits=12, sign="positive"),
]


class RefundIn(BaseModel):
    amount: RefundAmount | None = Field(
        default=None, description="empty: everything not refunded yet"
    )
    reason: str = Field(min_length=2, max_length=200)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=2, max_length=200)


class DeliverIn(BaseModel):
    content: str = Field(
        min_length=1,
        max_length=4000,
        description="what the buyer gets (account and password, code, instructions); "
        "stored encrypted",
    )
    note: str = Field(default="", max_length=200, description="for the timeline (not shown)")


class RedeliverIn(BaseModel):
    quantity: Int32 = Field(default=1, ge=1, le=10_000)
    reason: str = Field(min_length=2, max_length=200)
