"""Signed callbacks to resellers (Standard Webhooks) and every attempt to deliver them.

- ``reseller_callbacks``: one row per (order, event) — the unique index makes an event queued
  exactly once however often the code that notices it runs — plus ``ping`` rows (no order).
  ``webhook_id`` (``msg_…``) is the Standard Webhooks id, the same on every attempt, so the
  receiver can de-duplicate. ``payload`` is the body we sign and send, built when the event
  happens: the order as the reseller sees it, never a card secret. ``job_outbox_id`` names
  the one outbox job allowed to send it now; any other (an older retry, a duplicate) finds
  it is not theirs and does nothing.
- ``reseller_callback_attempts``: one row per try (time, HTTP status, latency, the start of
  the answer, the error).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base

CALLBACK_STATUSES = ("pending", "delivered", "failed", "skipped")
CALLBACK_EVENTS = (
    "order.delivered",
    "order.partially_delivered",
    "order.failed",
    "order.refunded",
    "order.cancelled",
    "ping",
)
EXCERPT_MAX = 500


class ResellerCallback(Base):
    __tablename__ = "reseller_callbacks"
    __table_args__ = (
        CheckConstraint(f"status IN {CALLBACK_STATUSES}", name="status"),
        CheckConstraint(f"event IN {CALLBACK_EVENTS}", name="event"),
        CheckConstraint("(event = 'ping') = (order_id IS NULL)", name="order_event"),
        Index("uq_reseller_callbacks_order_event", "order_id", "event", unique=True),
        Index("uq_reseller_callbacks_webhook_id", "webhook_id", unique=True),
        Index("ix_reseller_callbacks_user", "user_id", "id"),
        Index(
            "ix_reseller_callbacks_pending",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    order_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("orders.id"))
    order_no: Mapped[str | None] = mapped_column(String(32))
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    webhook_id: Mapped[str] = mapped_column(String(40))
    url: Mapped[str | None] = mapped_column(String(512))  # None: nowhere to send (skipped)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    round_failures: Mapped[int] = mapped_column(Integer, server_default="0")  # since (re)opened
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_response_excerpt: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))
    last_error: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))


class ResellerCallbackAttempt(Base):
    __tablename__ = "reseller_callback_attempts"
    __table_args__ = (Index("ix_reseller_callback_attempts_callback", "callback_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    callback_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reseller_callbacks.id"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(12))  # auto | resend
    url: Mapped[str] = mapped_column(String(512))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))
    error: Mapped[str | None] = mapped_column(String(EXCERPT_MAX))
