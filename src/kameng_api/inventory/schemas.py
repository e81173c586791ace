from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kameng_api.core.bounds import Id
from kameng_api.inventory.keyfile import Encoding, KeyFormat

KeyState = Literal["available", "reserved", "sold", "voided"]
BatchStatus = Literal[
    "validating", "validated", "queued", "imported", "failed", "discarded", "voided"
]


class ImportOptionsOut(BaseModel):
    format: KeyFormat
    separator: str
    encoding: Encoding
    has_header: bool


class ProblemSample(BaseModel):
    line: int
    kind: str = Field(
        description="empty, malformed, too_long, bad_cost, duplicate_in_file or in_stock"
    )
    preview: str = Field(description="card number and masked secret (never the secret)")


class ImportProgress(BaseModel):
    done: int
    total: int


class ImportOut(BaseModel):
    """One import (batch): its validation report, and what was imported."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku_id: int
    product_id: int
    status: BatchStatus
    source: Literal["paste", "txt", "csv", "xlsx"]
    filename: str | None
    options: ImportOptionsOut
    default_cost: Decimal | None
    note: str
    created_by: int | None
    created_by_name: str | None = Field(default=None, description="who uploaded (login)")
    created_at: datetime
    total_lines: int
    valid_count: int = Field(description="lines that will be imported on confirm")
    problem_counts: dict[str, int]
    samples: list[ProblemSample] = Field(description="the first 100 problem lines")
    validated_at: datetime | None
    confirmed_by: int | None
    confirmed_at: datetime | None
    imported_at: datetime | None
    imported_count: int
    cost_total: Decimal
    voided_at: datetime | None
    voided_count: int
    error_code: str | None
    error_detail: str | None
    progress: ImportProgress | None = Field(
        default=None, description="while a large import runs: keys written so far"
    )


class ImportPage(BaseModel):
    items: list[ImportOut]
    next_before_id: int | None


class VoidReasonIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku_id: int
    product_id: int
    batch_id: int
    state: KeyState
    card_no: str | None
    hint: str = Field(description="the masked secret, e.g. ****7XQ2")
    cost: Decimal | None
    order_id: int | None
    sold_count: int
    created_at: datetime
    sold_at: datetime | None
    voided_at: datetime | None


class KeyPage(BaseModel):
    items: list[KeyOut]
    next_before_id: int | None


class VoidKeysIn(BaseModel):
    key_ids: list[Id] = Field(min_length=1, max_length=1000)
    reason: str = Field(default="", max_length=200)


class VoidKeysOut(BaseModel):
    voided: int
    skipped: int = Field(description="keys that were not available (sold, reserved, voided)")


class RevealIn(BaseModel):
    reason: str = Field(default="", max_length=200)


class RevealOut(BaseModel):
    id: int
    card_no: str | None
    secret: str


class ExportIn(BaseModel):
    sku_id: Id
    state: KeyState = "available"
    batch_id: Id | None = None
    reason: str = Field(default="", max_length=200)


class SkuStockOut(BaseModel):
    sku_id: int
    product_id: int
    sku_name: str
    available: int
    reserved: int
    sold: int
    voided: int
    threshold: int = Field(description="the product's stock alert threshold (0: none)")
    low_stock: bool = Field(description="an open low-stock alert exists")


class ProductStockOut(BaseModel):
    product_id: int
    product_name: str
    looping_keys: bool
    available: int
    skus: list[SkuStockOut]


class ImportTargetSku(BaseModel):
    id: int
    name: str
    available: int


class ImportTarget(BaseModel):
    product_id: int
    product_name: str
    looping_keys: bool
    skus: list[ImportTargetSku]
