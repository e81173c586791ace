"""What the catalogue-sync and reconciliation API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kameng_api.core.bounds import IsoDateTime
from kameng_api.core.money import Money

RunStatus = Literal["running", "done", "failed"]
MismatchKind = Literal[
    "ours_success_theirs_failed",
    "ours_success_theirs_missing",
    "ours_failed_theirs_success",
    "state_differs",
    "cost_differs",
    "unanswered",
]


class SyncRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    supplier_id: int
    status: RunStatus
    total: int | None = Field(description="Products the supplier listed (null: not asked yet).")
    processed: int = Field(description="Products imported so far (progress).")
    created: int = Field(description="Products new to us.")
    updated: int = Field(description="Known products whose name, cost, kind or stock changed.")
    missing: int = Field(description="Products no longer listed (kept, marked not present).")
    repriced: int = Field(description="Mappings whose cost changed to the supplier's.")
    disabled: int = Field(description="Mappings disabled: their product is not listed.")
    error: str | None
    started_by: int | None
    started_at: datetime
    finished_at: datetime | None


class SyncRunPage(BaseModel):
    items: list[SyncRunOut]
    next_before_id: int | None


class SyncChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    run_id: int
    mapping_id: int
    sku_id: int
    product_id: str
    change: Literal["cost", "disabled"]
    old_cost: Money | None
    new_cost: Money | None
    note: str


class SyncChangePage(BaseModel):
    items: list[SyncChangeOut]
    next_before_id: int | None


class SupplierProductOut(BaseModel):
    id: int
    supplier_id: int
    product_id: str = Field(
        description="The supplier's product id (a mapping's supplier_product_id)."
    )
    name: str
    cost: Money | None = Field(description="The supplier's price: our cost.")
    kind: str
    available: bool = Field(description="In stock at the supplier (when it says).")
    present: bool = Field(description="Listed by the last sync.")
    first_seen_at: datetime
    last_seen_at: datetime
    mapped_sku_ids: list[int] = Field(description="Our SKUs mapped to this product.")


class SupplierProductPage(BaseModel):
    items: list[SupplierProductOut]
    next_before_id: int | None


class ReconIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: IsoDateTime = Field(description="Start of the period (inclusive), RFC 3339.")
    until: IsoDateTime = Field(description="End of the period (exclusive); at most 31 days.")


class ReconCountsOut(BaseModel):
    ours_success_theirs_failed: int
    ours_success_theirs_missing: int
    ours_failed_theirs_success: int
    state_differs: int
    cost_differs: int
    unanswered: int


class ReconAmountsOut(BaseModel):
    ours_success_theirs_failed: Money
    ours_success_theirs_missing: Money
    ours_failed_theirs_success: Money
    state_differs: Money
    cost_differs: Money
    unanswered: Money


class ReconReportOut(BaseModel):
    id: int
    supplier_id: int
    period_start: datetime
    period_end: datetime
    status: RunStatus
    total: int = Field(description="Our upstream orders in the period.")
    checked: int = Field(description="Asked about so far (progress).")
    matched: int
    mismatched: int
    counts: ReconCountsOut = Field(description="Mismatches per kind.")
    amounts: ReconAmountsOut = Field(description="Cost at stake per kind.")
    cost_at_stake: Money
    theirs_listed: bool = Field(
        description="Whether orders only the supplier knows were looked for (the protocol "
        "must list orders; none of ours can)."
    )
    note: str
    error: str | None
    started_by: int | None
    started_at: datetime
    finished_at: datetime | None


class ReconReportPage(BaseModel):
    items: list[ReconReportOut]
    next_before_id: int | None


class ReconMismatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    report_id: int
    upstream_id: int
    order_id: int
    order_no: str
    request_id: str
    kind: MismatchKind
    our_state: str
    their_state: Literal["success", "failed", "processing", "missing", "error"]
    our_cost: Money | None
    their_cost: Money | None
    at_stake: Money
    supplier_ref: str | None
    detail: str
    created_at: datetime


class ReconMismatchPage(BaseModel):
    items: list[ReconMismatchOut]
    next_before_id: int | None
