"""Catalog tables: categories (two levels), tags, products, SKUs and their prices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kameng_api.core.db import Base
from kameng_api.core.money import MoneyColumn

PRODUCT_STATUSES = ("listed", "unlisted", "scheduled")
DELIVERY_TYPES = ("card_key", "direct_recharge", "manual")
AUDIENCES = ("member", "reseller")


class Category(Base):
    __tablename__ = "catalog_categories"
    __table_args__ = (
        UniqueConstraint("parent_id", "name", postgresql_nulls_not_distinct=True),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("catalog_categories.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(64))
    icon: Mapped[str] = mapped_column(String(255), server_default="")
    sort: Mapped[int] = mapped_column(Integer, server_default="0")
    visible: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


product_tags = Table(
    "catalog_product_tags",
    Base.metadata,
    Column(
        "product_id",
        BigInteger,
        ForeignKey("catalog_products.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(32), primary_key=True),
    Index("ix_catalog_product_tags_tag", "tag"),
)


class Product(Base):
    __tablename__ = "catalog_products"
    __table_args__ = (
        CheckConstraint(f"status IN {PRODUCT_STATUSES}", name="status"),
        CheckConstraint(f"delivery_type IN {DELIVERY_TYPES}", name="delivery_type"),
        CheckConstraint("min_qty >= 1 AND max_qty >= min_qty", name="qty_range"),
        CheckConstraint("per_user_limit IS NULL OR per_user_limit >= 1", name="per_user_limit"),
        CheckConstraint("stock_alert_threshold >= 0", name="stock_alert_threshold"),
        CheckConstraint(
            "list_at IS NULL OR unlist_at IS NULL OR unlist_at > list_at", name="schedule"
        ),
        Index("ix_catalog_products_category_status", "category_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_categories.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(String(255), server_default="")
    description_html: Mapped[str] = mapped_column(Text, server_default="")
    images: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), server_default="unlisted")
    list_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unlist_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery_type: Mapped[str] = mapped_column(String(16))
    min_qty: Mapped[int] = mapped_column(Integer, server_default="1")
    max_qty: Mapped[int] = mapped_column(Integer, server_default="100")
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    stock_alert_threshold: Mapped[int] = mapped_column(Integer, server_default="0")
    looping_keys: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    buyer_fields: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    sort: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Sku(Base):
    __tablename__ = "catalog_skus"
    __table_args__ = (
        CheckConstraint("base_price >= 0", name="base_price"),
        CheckConstraint("cost_price >= 0", name="cost_price"),
        CheckConstraint("market_price IS NULL OR market_price >= 0", name="market_price"),
        UniqueConstraint("product_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    attrs: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    base_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    cost_price: Mapped[Decimal] = mapped_column(MoneyColumn, server_default="0")
    market_price: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    sort: Mapped[int] = mapped_column(Integer, server_default="0")


class SkuAudiencePrice(Base):
    """Price for a member level (会员价) or a reseller tier (代理价)."""

    __tablename__ = "catalog_sku_audience_prices"
    __table_args__ = (
        CheckConstraint(f"audience IN {AUDIENCES}", name="audience"),
        CheckConstraint("level >= 1", name="level"),
        CheckConstraint("price >= 0", name="price"),
    )

    sku_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_skus.id", ondelete="CASCADE"), primary_key=True
    )
    audience: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    price: Mapped[Decimal] = mapped_column(MoneyColumn)


class SkuTierPrice(Base):
    """Quantity tier price (阶梯价): buying at least ``min_qty`` costs ``price`` each."""

    __tablename__ = "catalog_sku_tier_prices"
    __table_args__ = (
        CheckConstraint("min_qty >= 2", name="min_qty"),
        CheckConstraint("price >= 0", name="price"),
    )

    sku_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("catalog_skus.id", ondelete="CASCADE"), primary_key=True
    )
    min_qty: Mapped[int] = mapped_column(Integer, primary_key=True)
    price: Mapped[Decimal] = mapped_column(MoneyColumn)


class CatalogVersion(Base):
    """One row whose ``version`` moves with every change to products, SKUs or prices
    (statement triggers, migration 5b1f0c7d2a91): a process may keep a catalogue snapshot
    and ``kameng_purchase`` tells it when the snapshot is stale."""

    __tablename__ = "catalog_version"
    __table_args__ = (CheckConstraint("id", name="one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
