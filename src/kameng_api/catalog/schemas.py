from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, model_validator

from kameng_api.core.bounds import Id, Int32, IsoDateTime
from kameng_api.core.money import Money, amount_limit, amount_schema

Price = Annotated[
    Decimal,
    Field(ge=0, le=amount_limit(8, 4), max_digits=12, decimal_places=4),
    amount_schema(places=4, int_digits=8, sign="not_negative"),
]
ProductStatus = Literal["listed", "unlisted", "scheduled"]
DeliveryType = Literal["card_key", "direct_recharge", "manual"]


class CategoryIn(BaseModel):
    parent_id: Id | None = None
    name: str = Field(min_length=1, max_length=64)
    icon: str = Field(default="", max_length=255)
    sort: Int32 = Field(default=0, ge=-10000, le=10000)
    visible: StrictBool = True


class CategoryPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    icon: str | None = Field(default=None, max_length=255)
    sort: Int32 | None = Field(default=None, ge=-10000, le=10000)
    visible: StrictBool | None = None


class CategoryOut(BaseModel):
    id: int
    parent_id: int | None
    name: str
    icon: str
    sort: int
    visible: bool
    product_count: int = 0
    children: list[CategoryOut] = Field(default_factory=list)


class BuyerField(BaseModel):
    """One input the buyer fills at order time (game account, region …)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = Field(min_length=1, max_length=64)
    type: Literal["text", "number", "email", "phone", "select"] = "text"
    required: StrictBool = True
    max_length: Int32 = Field(default=64, ge=1, le=500)
    pattern: str | None = Field(default=None, max_length=200)
    options: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _select_has_options(self) -> BuyerField:
        if self.type == "select" and not self.options:
            raise ValueError("a select field needs options")
        return self


# what the validator below allows as keys, for the schema (JSON keys are text)
MAX_LEVEL = 1000  # member levels and reseller tiers: 1 … 1000 (stored as smallint)
LEVEL_KEY = r"^([1-9][0-9]{0,2}|1000)$"  # a level or tier: 1 … 1000
TIER_KEY = r"^([2-9]|[1-9][0-9]{1,4}|100000)$"  # a quantity: 2 … 100000


def _keys(pattern: str) -> dict[str, Any]:
    return {"propertyNames": {"pattern": pattern}}


class SkuIn(BaseModel):
    id: Id | None = Field(default=None, description="Existing SKU to update; empty: new.")
    name: str = Field(min_length=1, max_length=64)
    attrs: dict[str, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict, max_length=10, description="face value, region, server …"
    )
    base_price: Price
    cost_price: Price = Decimal(0)
    market_price: Price | None = None
    member_prices: dict[int, Price] = Field(
        default_factory=dict, max_length=20, json_schema_extra=_keys(LEVEL_KEY)
    )
    reseller_prices: dict[int, Price] = Field(
        default_factory=dict, max_length=20, json_schema_extra=_keys(LEVEL_KEY)
    )
    tier_prices: dict[int, Price] = Field(
        default_factory=dict,
        max_length=20,
        description="min quantity (≥ 2) → unit price",
        json_schema_extra=_keys(TIER_KEY),
    )
    active: StrictBool = True
    sort: Int32 = Field(default=0, ge=-10000, le=10000)

    @model_validator(mode="after")
    def _levels(self) -> SkuIn:
        for name, table, low, high in (
            ("member_prices", self.member_prices, 1, MAX_LEVEL),
            ("reseller_prices", self.reseller_prices, 1, MAX_LEVEL),
            ("tier_prices", self.tier_prices, 2, 100000),
        ):
            if any(k < low or k > high for k in table):
                raise ValueError(f"{name}: keys must be between {low} and {high}")
        return self


class ProductIn(BaseModel):
    category_id: Id
    name: str = Field(min_length=1, max_length=128)
    summary: str = Field(default="", max_length=255)
    description_html: str = Field(default="", max_length=100_000)
    images: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=10)
    status: ProductStatus = "unlisted"
    list_at: IsoDateTime | None = None
    unlist_at: IsoDateTime | None = None
    delivery_type: DeliveryType
    min_qty: Int32 = Field(default=1, ge=1, le=100000)
    max_qty: Int32 = Field(default=100, ge=1, le=100000)
    per_user_limit: Int32 | None = Field(default=None, ge=1, le=100000)
    stock_alert_threshold: Int32 = Field(default=0, ge=0, le=10_000_000)
    looping_keys: StrictBool = Field(
        default=False, description="One card key sold again and again (e.g. a shared code)."
    )
    buyer_fields: list[BuyerField] = Field(default_factory=list, max_length=10)
    tags: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    sort: Int32 = Field(default=0, ge=-10000, le=10000)
    skus: list[SkuIn] = Field(min_length=1, max_length=100)
    confirm_below_cost: StrictBool = Field(
        default=False, description="Save even though a price is below cost (asked first)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProductIn:
        if self.max_qty < self.min_qty:
            raise ValueError("max_qty must be at least min_qty")
        if self.status == "scheduled" and not (self.list_at or self.unlist_at):
            raise ValueError("a scheduled product needs list_at or unlist_at")
        if self.list_at and self.unlist_at and self.unlist_at <= self.list_at:
            raise ValueError("unlist_at must be after list_at")
        if len({f.key for f in self.buyer_fields}) != len(self.buyer_fields):
            raise ValueError("buyer field keys must be unique")
        if len({s.name for s in self.skus}) != len(self.skus):
            raise ValueError("SKU names must be unique within a product")
        return self


class SkuOut(BaseModel):
    id: int
    name: str
    attrs: dict[str, str]
    base_price: Money
    cost_price: Money
    market_price: Money | None
    member_prices: dict[int, Money]
    reseller_prices: dict[int, Money]
    tier_prices: dict[int, Money]
    active: bool
    sort: int
    available: int | None = Field(
        default=None, description="Keys in stock (card-key products; from stock counters)."
    )


class ProductOut(BaseModel):
    id: int
    category_id: int
    name: str
    summary: str
    description_html: str
    images: list[str]
    status: ProductStatus
    on_sale: bool = Field(description="Shown in the shop right now (status and schedule).")
    list_at: datetime | None
    unlist_at: datetime | None
    delivery_type: DeliveryType
    min_qty: int
    max_qty: int
    per_user_limit: int | None
    stock_alert_threshold: int
    looping_keys: bool
    buyer_fields: list[BuyerField]
    tags: list[str]
    sort: int
    version: int
    created_at: datetime
    updated_at: datetime
    skus: list[SkuOut]


class PriceWarningOut(BaseModel):
    code: Literal["below_cost", "below_market", "above_market"]
    sku: str
    price_label: str
    price: Money
    reference: Money
    percent: int
    message_zh: str
    message_en: str


class ProductSaved(BaseModel):
    product: ProductOut
    warnings: list[PriceWarningOut] = Field(
        description="Price hints (far from the market reference); the save went through."
    )


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_before_id: int | None


class BulkStatusIn(BaseModel):
    product_ids: list[Id] = Field(min_length=1, max_length=500)
    status: Literal["listed", "unlisted"]


class BulkStatusOut(BaseModel):
    updated: int


class PriceCheckIn(BaseModel):
    sku: SkuIn


class PriceCheckOut(BaseModel):
    below_cost: list[PriceWarningOut]
    hints: list[PriceWarningOut]


class QuoteOut(BaseModel):
    sku_id: int
    quantity: int
    unit_price: Money
    total: Money
    rule: str = Field(description="base, member:<level>, reseller:<tier> or tier:<min qty>")


class ShopSkuOut(BaseModel):
    id: int
    name: str
    attrs: dict[str, str]
    unit_price: Money = Field(description="Your price for one.")
    market_price: Money | None
    tier_prices: dict[int, Money] = Field(description="Quantity tiers you would get.")
    available: int | None = Field(
        description="Keys in stock (card-key products); null when not counted (direct "
        "recharge, manual delivery, looping keys, card keys bought from a supplier on demand)."
    )
    in_stock: bool = Field(description="Can be bought now.")


class ShopProductOut(BaseModel):
    id: int
    category_id: int
    name: str
    summary: str
    description_html: str
    images: list[str]
    delivery_type: DeliveryType
    min_qty: int
    max_qty: int
    per_user_limit: int | None
    buyer_fields: list[BuyerField]
    tags: list[str]
    price_from: Money = Field(description="Lowest unit price of its SKUs for you.")
    skus: list[ShopSkuOut]
