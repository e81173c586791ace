"""Upstream suppliers (上游), which of them serve a SKU, and every order we placed with them.

- ``suppliers``: one row per upstream account: protocol (``kameng`` | ``fulu`` |
  ``http_json``), base URL (SSRF-checked on save), credentials as ONE encrypted JSON blob
  (``encrypt_field``, bound to the row id: never returned by the API), timeout, the balance
  last seen and its low-balance threshold. ``serves_unmapped``: the supplier serves direct
  recharges of SKUs that have no mapping (the row seeded from ``KAMENG_RECHARGE_SUPPLIER_*``).
  The circuit breaker's state lives in Redis (shared by every process), not here.
- ``supplier_mappings``: our SKU → a supplier's product id, its cost, and the failover order
  (``priority``, lowest first); one per (SKU, supplier).
- ``upstream_orders``: one row per (order, delivery attempt, supplier) — recorded and
  committed BEFORE the call. ``request_id`` is our idempotency key at the supplier
  (``<order_no>-<delivery attempt>-<supplier id>``), identical on every retry, so a retry,
  poll or re-drive never orders twice; unique per supplier (a callback is bound by it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base

PROTOCOLS = ("kameng", "fulu", "http_json")
UPSTREAM_STATES = ("submitted", "processing", "success", "failed", "unknown")
ACTIVE_STATES = ("submitted", "processing", "unknown")


class Supplier(Base):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint(f"protocol IN {PROTOCOLS}", name="protocol"),
        CheckConstraint("timeout_s > 0 AND timeout_s <= 12", name="timeout"),
        CheckConstraint("low_balance_threshold IS NULL OR low_balance_threshold >= 0", name="low"),
        Index("uq_suppliers_name", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(512))
    # encrypt_field(json.dumps({...}), aad="supplier:<id>:credentials")
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    timeout_s: Mapped[float] = mapped_column(Float, server_default="8")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    serves_unmapped: Mapped[bool] = mapped_column(Boolean, server_default="false")
    settings_managed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    balance: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    balance_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    low_balance_threshold: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    last_error: Mapped[str | None] = mapped_column(String(255))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SupplierMapping(Base):
    __tablename__ = "supplier_mappings"
    __table_args__ = (
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
        Index("uq_supplier_mappings_sku_supplier", "sku_id", "supplier_id", unique=True),
        Index("ix_supplier_mappings_supplier", "supplier_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("catalog_skus.id"))
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("suppliers.id"))
    supplier_product_id: Mapped[str] = mapped_column(String(64))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    priority: Mapped[int] = mapped_column(Integer, server_default="100")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class UpstreamOrder(Base):
    __tablename__ = "upstream_orders"
    __table_args__ = (
        CheckConstraint(f"state IN {UPSTREAM_STATES}", name="state"),
        Index("uq_upstream_orders_supplier_request", "supplier_id", "request_id", unique=True),
        Index("ix_upstream_orders_order", "order_id", "id"),
        Index("ix_upstream_orders_supplier_created", "supplier_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"))
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("suppliers.id"))
    mapping_id: Mapped[int | None] = mapped_column(BigInteger)  # None: served as unmapped
    delivery_attempt: Mapped[int] = mapped_column(SmallInteger)
    request_id: Mapped[str] = mapped_column(String(80))
    supplier_product_id: Mapped[str] = mapped_column(String(64))
    supplier_ref: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), server_default="submitted")
    cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    latency_ms: Mapped[int | None] = mapped_column(Integer)  # of the submit call
    calls: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(255))
    # failed because the call never left (connect refused): nothing was ordered, so this
    # supplier may be asked again later under the same request id
    never_reached: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
