"""Payments (支付单): one row per attempt to collect money through a gateway, for an order or
a wallet recharge. ``out_trade_no`` is what the gateway knows it by; a verified notice (or an
order query) moves it to ``succeeded`` exactly once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base
from kameng_api.core.money import MoneyColumn

PURPOSES = ("order", "recharge")
PAYMENT_STATUSES = ("pending", "succeeded", "closed")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"purpose IN {PURPOSES}", name="purpose"),
        CheckConstraint(f"status IN {PAYMENT_STATUSES}", name="status"),
        CheckConstraint("(purpose = 'order') = (order_id IS NOT NULL)", name="order_ref"),
        CheckConstraint("amount > 0", name="amount"),
        Index("uq_payments_out_trade_no", "out_trade_no", unique=True),
        Index("uq_payments_gateway_trade_no", "gateway", "trade_no", unique=True),
        Index("ix_payments_order", "order_id"),
        Index("ix_payments_pending", "created_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    gateway: Mapped[str] = mapped_column(String(16), server_default="epay")
    channel: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    trade_no: Mapped[str | None] = mapped_column(String(64))
    notices: Mapped[int] = mapped_column(Integer, server_default="0")
    polls: Mapped[int] = mapped_column(Integer, server_default="0")  # gateway queries so far
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_notice: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
