"""Orders (订单): what a buyer bought, at what price, and every step it took.

An order snapshots the product, SKU and price at the time of purchase. ``status`` moves only
through ``orders.service`` and every move is a row in ``order_events`` (the timeline: from,
to, who, why). Delivered card keys are rows in ``order_keys``; a key leaves stock in the same
transaction that records it there, so a key is in at most one order and a paid order is
delivered once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base
from kameng_api.core.money import MoneyColumn

ORDER_STATUSES = (
    "pending_payment",
    "paid",  # money received; delivery not finished (or waiting for stock)
    "delivering",  # handed to the delivery job (direct recharge, manual)
    "delivered",
    "partially_delivered",
    "failed",
    "refunded",
    "expired",  # never paid
)
PAY_METHODS = ("balance", "epay")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="status"),
        CheckConstraint(f"pay_method IS NULL OR pay_method IN {PAY_METHODS}", name="pay_method"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("total >= 0 AND unit_price >= 0", name="amounts"),
        CheckConstraint("delivered_qty >= 0 AND delivered_qty <= quantity", name="delivered_qty"),
        Index("uq_orders_order_no", "order_no", unique=True),
        Index("ix_orders_buyer", "buyer_id", "id"),
        Index("ix_orders_status", "status", "id"),
        Index("ix_orders_product", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32))
    # no foreign keys to the buyer or the catalogue: the order keeps its own copy of what was
    # bought, a key-share lock on the one product row every order of a sale points at costs,
    # and so does each check (migrations e7a3c1f4b962, f3b9d2a61c48); users, products and
    # SKUs are never deleted
    buyer_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger)
    sku_id: Mapped[int] = mapped_column(BigInteger)
    product_name: Mapped[str] = mapped_column(String(128))
    sku_name: Mapped[str] = mapped_column(String(64))
    delivery_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    total: Mapped[Decimal] = mapped_column(MoneyColumn)
    price_rule: Mapped[str] = mapped_column(String(32))
    buyer_input: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(24))
    pay_method: Mapped[str | None] = mapped_column(String(16))
    delivered_qty: Mapped[int] = mapped_column(Integer, server_default="0")
    awaiting_stock: Mapped[bool] = mapped_column(server_default=text("false"))
    refunded_total: Mapped[Decimal] = mapped_column(MoneyColumn, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # direct recharge: our request id at the supplier is "<order_no>-<delivery_attempt>"
    delivery_attempt: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    supplier_ref: Mapped[str | None] = mapped_column(String(64))
    # set (committed) before the first call to any upstream supplier for this order: from then
    # on a reseller can no longer cancel it ("cancel before processing")
    upstream_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # manual products: what staff delivered (account, code …), encrypted like card secrets
    delivery_content: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrderEvent(Base):
    """The timeline: one row per status change (and notable steps), with actor and reason."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # written only with its order's change, and orders are never deleted: no foreign-key
    # check per row (migration f3b9d2a61c48)
    order_id: Mapped[int] = mapped_column(BigInteger)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # like the operation log: no FK
    reason: Mapped[str] = mapped_column(String(255), server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderKey(Base):
    """A card key delivered in an order (for looping keys, the same key in many orders)."""

    __tablename__ = "order_keys"

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK, as above
    key_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # inventory_keys.id
    seq: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key`` and the answer it got (``orders.idempotency``)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created", "created_at"),)

    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
