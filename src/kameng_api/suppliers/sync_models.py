"""What catalogue syncs and reconciliations (对账) keep.

- ``supplier_catalogue_items``: the supplier's products as last synced — one row per
  (supplier, product id): name, cost (the supplier's price = our cost), kind, stock status
  (``available``), whether the last sync still listed it (``present``), when it was first and
  last seen, and the run that last saw or changed it.
- ``supplier_sync_runs``: one row per sync ("同步商品目录"): status ``running`` / ``done`` /
  ``failed`` and its counts, polled by the console. One running run per supplier (a partial
  unique index).
- ``supplier_sync_changes``: what a run did to mappings: a cost changed (old → new) or a
  mapping disabled because its product is no longer listed. Unique per (run, mapping, change).
- ``supplier_recon_reports``: one reconciliation of a supplier over a period: status, how far
  it got (``cursor`` = the last upstream order id checked), counts and cost at stake per kind.
  One running report per supplier.
- ``supplier_recon_mismatches``: the upstream orders where our record and the supplier's
  answer differ; unique per (report, upstream order), so a page checked twice lists once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base

RUN_STATUSES = ("running", "done", "failed")
CHANGES = ("cost", "disabled")
MISMATCH_KINDS = (
    "ours_success_theirs_failed",
    "ours_success_theirs_missing",
    "ours_failed_theirs_success",
    "state_differs",
    "cost_differs",
    "unanswered",
)


class SupplierCatalogueItem(Base):
    __tablename__ = "supplier_catalogue_items"
    __table_args__ = (
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
        Index("uq_supplier_catalogue_items_product", "supplier_id", "product_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("suppliers.id"))
    product_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    kind: Mapped[str] = mapped_column(String(32), server_default="")
    available: Mapped[bool] = mapped_column(Boolean, server_default="true")
    present: Mapped[bool] = mapped_column(Boolean, server_default="true")
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_run_id: Mapped[int | None] = mapped_column(BigInteger)


class SupplierSyncRun(Base):
    __tablename__ = "supplier_sync_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        Index("ix_supplier_sync_runs_supplier", "supplier_id", "id"),
        Index(
            "uq_supplier_sync_runs_running",
            "supplier_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("suppliers.id"))
    status: Mapped[str] = mapped_column(String(12), server_default="running")
    total: Mapped[int | None] = mapped_column(Integer)  # products listed (None: not asked yet)
    processed: Mapped[int] = mapped_column(Integer, server_default="0")
    created: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    missing: Mapped[int] = mapped_column(Integer, server_default="0")
    repriced: Mapped[int] = mapped_column(Integer, server_default="0")
    disabled: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(String(500))
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    started_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SupplierSyncChange(Base):
    __tablename__ = "supplier_sync_changes"
    __table_args__ = (
        CheckConstraint(f"change IN {CHANGES}", name="change"),
        Index(
            "uq_supplier_sync_changes_run_mapping", "run_id", "mapping_id", "change", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier_sync_runs.id"))
    mapping_id: Mapped[int] = mapped_column(BigInteger)
    sku_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(12))
    old_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    new_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    note: Mapped[str] = mapped_column(String(255), server_default="")


class SupplierReconReport(Base):
    __tablename__ = "supplier_recon_reports"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        CheckConstraint("period_end > period_start", name="period"),
        Index("ix_supplier_recon_reports_supplier", "supplier_id", "id"),
        Index(
            "uq_supplier_recon_reports_running",
            "supplier_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("suppliers.id"))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), server_default="running")
    total: Mapped[int] = mapped_column(Integer, server_default="0")  # our upstream orders
    checked: Mapped[int] = mapped_column(Integer, server_default="0")
    matched: Mapped[int] = mapped_column(Integer, server_default="0")
    mismatched: Mapped[int] = mapped_column(Integer, server_default="0")
    cursor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    amounts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    cost_at_stake: Mapped[Decimal] = mapped_column(Numeric(20, 4), server_default="0")
    theirs_listed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    note: Mapped[str] = mapped_column(String(255), server_default="")
    error: Mapped[str | None] = mapped_column(String(500))
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    started_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SupplierReconMismatch(Base):
    __tablename__ = "supplier_recon_mismatches"
    __table_args__ = (
        CheckConstraint(f"kind IN {MISMATCH_KINDS}", name="kind"),
        Index("uq_supplier_recon_mismatches_upstream", "report_id", "upstream_id", unique=True),
        Index("ix_supplier_recon_mismatches_report_kind", "report_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("supplier_recon_reports.id"))
    upstream_id: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int] = mapped_column(BigInteger)
    order_no: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    our_state: Mapped[str] = mapped_column(String(12))
    their_state: Mapped[str] = mapped_column(String(12))  # success/failed/processing/missing/error
    our_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    their_cost: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    at_stake: Mapped[Decimal] = mapped_column(Numeric(20, 4), server_default="0")
    supplier_ref: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(255), server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
