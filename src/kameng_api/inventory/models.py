"""Card-key inventory tables: keys (secrets encrypted), import batches, staged uploads, stock.

``inventory_keys`` is the one big table (millions of rows), so it is built for bulk loading:
no foreign keys (each would be an index probe per copied row; the service checks the SKU once
per batch), and exactly three indexes — the primary key, the
unique keyed hash (de-duplication) and ``(sku_id, state, id)`` (allocation and lists). Imports
run one at a time and assign ids themselves, so a batch's keys are one id range: found through
the primary key, no batch index either.
"""

from __future__ import annotations

import uuid
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
    LargeBinary,
    SmallInteger,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base
from kameng_api.core.money import MoneyColumn

KEY_STATES = ("available", "reserved", "sold", "voided")
BATCH_STATUSES = (
    "validating",  # the upload is being checked (a job, for large files)
    "validated",  # the report is ready; waiting for confirm or discard
    "queued",  # confirmed; the import job will run
    "imported",
    "failed",  # validation or import failed; nothing was imported
    "discarded",  # the uploader threw the draft away (or it expired)
    "voided",  # imported, then voided as a whole (only while unsold)
)
SOURCES = ("paste", "txt", "csv", "xlsx")


class CardKey(Base):
    __tablename__ = "inventory_keys"
    __table_args__ = (
        CheckConstraint(f"state IN {KEY_STATES}", name="state"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost"),
        CheckConstraint("sold_count >= 0", name="sold_count"),
        # A secret is in stock at most once (sold ones included, so a sold key cannot come back);
        # voided keys leave the index so a corrected batch can be imported again.
        Index(
            "uq_inventory_keys_digest_live",
            "digest",
            unique=True,
            postgresql_where=text("state <> 'voided'"),
        ),
        Index("ix_inventory_keys_sku_state_id", "sku_id", "state", "id"),
        # the claim (kameng_purchase, allocate): keys for sale in id order
        Index(
            "ix_inventory_keys_available",
            "sku_id",
            "id",
            postgresql_where=text("state = 'available'"),
        ),
    )

    # assigned by the import holding the import lock: a batch's keys are one id range
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sku_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), server_default="available")
    card_no: Mapped[str | None] = mapped_column(String(128))
    # nonce (12) | AES-GCM ciphertext | tag (16); the AAD is the digest, binding it to its row
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    # keyed BLAKE2s-128 of the secret (inventory.keyfile.check): dedupe without decrypting
    digest: Mapped[uuid.UUID] = mapped_column(Uuid)
    hint: Mapped[str] = mapped_column(String(16), server_default="")
    cost: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    sold_count: Mapped[int] = mapped_column(Integer, server_default="0")
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sold_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportBatch(Base):
    """One import (导入批次): the upload, its validation report, and what was imported."""

    __tablename__ = "inventory_batches"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATUSES}", name="status"),
        CheckConstraint(f"source IN {SOURCES}", name="source"),
        CheckConstraint("default_cost IS NULL OR default_cost >= 0", name="default_cost"),
        Index("ix_inventory_batches_sku_id", "sku_id", "id"),
        Index("ix_inventory_batches_product_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("catalog_skus.id"))
    product_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("catalog_products.id"))
    status: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str | None] = mapped_column(String(255))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    default_cost: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    note: Mapped[str] = mapped_column(String(255), server_default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # validation report
    total_lines: Mapped[int] = mapped_column(Integer, server_default="0")
    valid_count: Mapped[int] = mapped_column(Integer, server_default="0")
    problem_counts: Mapped[dict[str, int]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    validated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the import
    confirmed_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_count: Mapped[int] = mapped_column(Integer, server_default="0")
    cost_total: Mapped[Decimal] = mapped_column(MoneyColumn, server_default="0")
    first_key_id: Mapped[int | None] = mapped_column(BigInteger)
    last_key_id: Mapped[int | None] = mapped_column(BigInteger)
    voided_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_count: Mapped[int] = mapped_column(Integer, server_default="0")
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(String(500))


class ImportFile(Base):
    """The uploaded file between upload and import, encrypted (it holds plaintext secrets);
    deleted once the batch is imported, failed or discarded."""

    __tablename__ = "inventory_import_files"

    batch_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("inventory_batches.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    # written by the check: the lines to import, as keyed hashes + row indexes in COPY order
    # (inventory.keyfile.make_plan); no secrets in it
    plan: Mapped[bytes | None] = mapped_column(LargeBinary)


class Stock(Base):
    """Stock counters per SKU, moved in the same transaction as the keys they count, so reading
    stock never counts rows."""

    __tablename__ = "inventory_stock"
    __table_args__ = (
        CheckConstraint(
            "available >= 0 AND reserved >= 0 AND sold >= 0 AND voided >= 0", name="non_negative"
        ),
    )

    sku_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_skus.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True
    )
    available: Mapped[int] = mapped_column(BigInteger, server_default="0")
    reserved: Mapped[int] = mapped_column(BigInteger, server_default="0")
    sold: Mapped[int] = mapped_column(BigInteger, server_default="0")
    voided: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


STOCK_SLOTS = 16


class StockDelta(Base):
    """What purchases took from a SKU's stock since the last fold, spread over
    ``STOCK_SLOTS`` rows per SKU. A purchase adds to one slot (its order id mod the slot
    count) instead of updating the SKU's ``inventory_stock`` row, so buyers of one SKU do not
    queue behind each other's transactions on a single row. Stock = the base row + the sum of
    its slots; ``inventory:fold_stock`` moves the slots into the base row every few seconds."""

    __tablename__ = "inventory_stock_deltas"

    sku_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_skus.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, server_default="0")
    sold: Mapped[int] = mapped_column(BigInteger, server_default="0")
