"""A reseller's open-API keys, callback settings, and the orders they placed through the API.

- ``reseller_keys``: one row per key (app id + secret). The secret is shown once and stored
  encrypted (AES-GCM, bound to the app id). Rotating makes a new key and leaves the old one
  valid until ``expires_at`` (the grace period); revoking ends it at once.
- ``reseller_accounts``: per reseller, where callbacks go and the secret they are signed with
  (Standard Webhooks ``whsec_…``, encrypted).
- ``open_orders``: which order answers a reseller's ``out_trade_no`` (unique per reseller) and
  the digest of the request that made it, so a retry gets the same order and another body
  under the same number is refused.
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
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base

KEY_STATUSES = ("active", "revoked")


class ResellerKey(Base):
    __tablename__ = "reseller_keys"
    __table_args__ = (
        CheckConstraint(f"status IN {KEY_STATUSES}", name="status"),
        CheckConstraint("rate_limit_per_min > 0", name="rate_limit"),
        Index("uq_reseller_keys_app_id", "app_id", unique=True),
        Index("ix_reseller_keys_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64), server_default="")
    app_id: Mapped[str] = mapped_column(String(40))
    secret_enc: Mapped[str] = mapped_column(String(255))  # encrypt_field(secret, aad=app_id)
    secret_hint: Mapped[str] = mapped_column(String(8))  # the last 4 characters, for lists
    # CIDR strings ("203.0.113.0/24", "2001:db8::1/128"); empty: any address
    ip_allowlist: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    rate_limit_per_min: Mapped[int] = mapped_column(Integer, server_default="600")
    status: Mapped[str] = mapped_column(String(12), server_default="active")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # rotation grace
    rotated_to_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ResellerAccount(Base):
    __tablename__ = "reseller_accounts"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    callback_url: Mapped[str | None] = mapped_column(String(512))
    webhook_secret_enc: Mapped[str] = mapped_column(String(255))  # whsec_…, encrypted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OpenOrder(Base):
    __tablename__ = "open_orders"
    __table_args__ = (
        Index("uq_open_orders_out_trade_no", "user_id", "out_trade_no", unique=True),
        Index("ix_open_orders_user", "user_id", "order_id"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    out_trade_no: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reseller_keys.id"))
    callback_url: Mapped[str | None] = mapped_column(String(512))  # overrides the account's
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # the reseller cancelled it before it went upstream (the order itself reads ``refunded``)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
