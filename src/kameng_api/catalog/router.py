"""HTTP for the catalog: the console's categories/products (catalog:*), and the shop's public
browse that shows each buyer *their* price."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import pricing, service
from kameng_api.catalog.models import Product, Sku
from kameng_api.catalog.permissions import CatalogPerm
from kameng_api.catalog.schemas import (
    BulkStatusIn,
    BulkStatusOut,
    BuyerField,
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    PriceCheckIn,
    PriceCheckOut,
    PriceWarningOut,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductSaved,
    ProductStatus,
    QuoteOut,
    ShopProductOut,
    ShopSkuOut,
    SkuOut,
)
from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, NotFound, error_responses
from kameng_api.core.etag import etag_response
from kameng_api.inventory import service as inventory
from kameng_api.orders import sourcing
from kameng_api.rbac.deps import DbSession, MaybeSignedIn, require

router = APIRouter(prefix="/catalog", tags=["catalog"])
shop_router = APIRouter(prefix="/shop", tags=["shop"])

Reader = Annotated[Actor, require(CatalogPerm.read)]
Writer = Annotated[Actor, require(CatalogPerm.write)]


class QuantityOutOfRange(AppError):
    status = 422
    code = "quantity_out_of_range"
    title = "Quantity out of range"


# ---- categories -----------------------------------------------------------------------------


@router.get(
    "/categories",
    operation_id="catalog:list_categories",
    response_model=list[CategoryOut],
    responses=error_responses(401, 403),
)
async def list_categories(session: DbSession, _: Reader) -> list[CategoryOut]:
    """The category tree (two levels), hidden ones included."""
    return [CategoryOut.model_validate(c) for c in await service.category_tree(session)]


@router.post(
    "/categories",
    operation_id="catalog:create_category",
    status_code=201,
    response_model=CategoryOut,
    responses=error_responses(401, 403, 409, 422),
)
async def create_category(body: CategoryIn, session: DbSession, actor: Writer) -> CategoryOut:
    cat = await service.create_category(session, actor, body)
    return CategoryOut.model_validate(cat, from_attributes=True)


@router.patch(
    "/categories/{category_id}",
    operation_id="catalog:update_category",
    response_model=CategoryOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_category(
    category_id: Id, body: CategoryPatch, session: DbSession, actor: Writer
) -> CategoryOut:
    cat = await service.update_category(session, actor, category_id, body)
    return CategoryOut.model_validate(cat, from_attributes=True)


@router.delete(
    "/categories/{category_id}",
    operation_id="catalog:delete_category",
    status_code=204,
    responses=error_responses(401, 403, 404, 409),
)
async def delete_category(category_id: Id, session: DbSession, actor: Writer) -> None:
    """Only an empty category (no sub-categories, no products) can go."""
    await service.delete_category(session, actor, category_id)


# ---- products -------------------------------------------------------------------------------


async def product_out(session: AsyncSession, p: Product) -> ProductOut:
    skus = await service.skus_of(session, p.id)
    prices = await service.load_prices(session, [s.id for s in skus])
    tags = await service.tags_of(session, [p.id])
    out = _product_out(p, skus, prices, tags[p.id])
    if p.delivery_type == "card_key":
        stock = await inventory.stock_for_skus(session, [s.id for s in skus])
        for sku in out.skus:
            sku.available = stock[sku.id].available if sku.id in stock else 0
    return out


def _product_out(
    p: Product, skus: Any, prices: dict[int, pricing.SkuPrices], tags: list[str]
) -> ProductOut:
    return ProductOut(
        id=p.id,
        category_id=p.category_id,
        name=p.name,
        summary=p.summary,
        description_html=p.description_html,
        images=list(p.images),
        status=p.status,
        on_sale=service.is_on_sale(p, clock.now()),
        list_at=p.list_at,
        unlist_at=p.unlist_at,
        delivery_type=p.delivery_type,
        min_qty=p.min_qty,
        max_qty=p.max_qty,
        per_user_limit=p.per_user_limit,
        stock_alert_threshold=p.stock_alert_threshold,
        looping_keys=p.looping_keys,
        buyer_fields=[BuyerField.model_validate(f) for f in p.buyer_fields],
        tags=tags,
        sort=p.sort,
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
        skus=[
            SkuOut(
                id=s.id,
                name=s.name,
                attrs=dict(s.attrs),
                base_price=s.base_price,
                cost_price=s.cost_price,
                market_price=s.market_price,
                member_prices=prices[s.id].member,
                reseller_prices=prices[s.id].reseller,
                tier_prices=prices[s.id].tiers,
                active=s.active,
                sort=s.sort,
            )
            for s in skus
        ],
    )


def _warnings(items: list[tuple[str, pricing.PriceWarning]]) -> list[PriceWarningOut]:
    return [
        PriceWarningOut(
            code=w.code,
            sku=sku,
            price_label=w.price_label,
            price=w.price,
            reference=w.reference,
            percent=w.percent,
            message_zh=w.message_zh,
            message_en=w.message_en,
        )
        for sku, w in items
    ]


async def _saved(session: AsyncSession, saved: service.Saved) -> ProductSaved:
    return ProductSaved(
        product=await product_out(session, saved.product), warnings=_warnings(saved.warnings)
    )


@router.get(
    "/products",
    operation_id="catalog:list_products",
    response_model=ProductPage,
    responses=error_responses(401, 403, 422),
)
async def list_products(
    session: DbSession,
    _: Reader,
    category_id: Id | None = None,
    status: ProductStatus | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProductPage:
    """Newest first, keyset-paginated (``before_id`` = the last page's ``next_before_id``)."""
    f = service.ProductFilter(category_id=category_id, status=status, q=q, tag=tag)
    rows = await service.list_products(session, f, before_id=before_id, limit=limit)
    items = [await product_out(session, p) for p in rows]
    return ProductPage(
        items=items, next_before_id=rows[-1].id if len(rows) == limit and rows else None
    )


@router.post(
    "/products",
    operation_id="catalog:create_product",
    status_code=201,
    response_model=ProductSaved,
    responses=error_responses(401, 403, 409, 422),
)
async def create_product(body: ProductIn, session: DbSession, actor: Writer) -> ProductSaved:
    """Create a product with its SKUs and prices. A price below cost is refused
    (``price_below_cost``) unless ``confirm_below_cost``; prices far from the market reference
    come back as ``warnings``."""
    return await _saved(session, await service.create_product(session, actor, body))


@router.get(
    "/products/{product_id:int}",
    operation_id="catalog:get_product",
    response_model=ProductOut,
    responses=error_responses(401, 403, 404),
)
async def get_product(product_id: Id, session: DbSession, _: Reader) -> ProductOut:
    return await product_out(session, await service.get_product(session, product_id))


@router.put(
    "/products/{product_id:int}",
    operation_id="catalog:update_product",
    response_model=ProductSaved,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_product(
    product_id: Id, body: ProductIn, session: DbSession, actor: Writer
) -> ProductSaved:
    """Replace the product. SKUs with an ``id`` are updated, new ones created, missing ones
    deactivated (orders keep referring to them). Changing prices needs ``catalog:pricing``."""
    return await _saved(session, await service.update_product(session, actor, product_id, body))


@router.post(
    "/products/bulk-status",
    operation_id="catalog:bulk_status",
    response_model=BulkStatusOut,
    responses=error_responses(401, 403, 422),
)
async def bulk_status(body: BulkStatusIn, session: DbSession, actor: Writer) -> BulkStatusOut:
    """List or unlist many products at once."""
    n = await service.bulk_status(session, actor, body.product_ids, body.status)
    return BulkStatusOut(updated=n)


@router.post(
    "/price-check",
    operation_id="catalog:price_check",
    response_model=PriceCheckOut,
    responses=error_responses(401, 403, 422),
)
async def price_check(body: PriceCheckIn, _: Reader) -> PriceCheckOut:
    """The editor's live price hints, without saving (writes nothing)."""
    below, hints = pricing.price_checks(
        service.sku_prices(body.sku), body.sku.cost_price, body.sku.market_price
    )
    return PriceCheckOut(
        below_cost=_warnings([(body.sku.name, w) for w in below]),
        hints=_warnings([(body.sku.name, w) for w in hints]),
    )


# ---- the shop -------------------------------------------------------------------------------


async def _buyer(session: AsyncSession, actor: Actor | None) -> pricing.Buyer:
    return await service.buyer(session, None if actor is None else actor.user_id)


def _availability(p: Product, available: int, on_demand: bool) -> tuple[int | None, bool]:
    """What the shop says about stock: a count for card keys, "in stock" for the rest and for
    card keys bought from a supplier on demand (``orders/sourcing.py``)."""
    if p.delivery_type != "card_key" or on_demand:
        return None, True
    if p.looping_keys:  # one key sold many times: any key is unlimited stock
        return None, available > 0
    return available, available >= p.min_qty


def _shop_product(
    p: Product,
    skus: list[Sku],
    prices: dict[int, pricing.SkuPrices],
    tags: list[str],
    buyer: pricing.Buyer,
    stock: dict[int, int],
    on_demand: set[int],
) -> ShopProductOut:
    shop_skus = []
    for s in skus:
        available, in_stock = _availability(p, stock.get(s.id, 0), s.id in on_demand)
        unit = pricing.quote(prices[s.id], buyer, p.min_qty).unit_price
        tiers = {
            k: pricing.quote(prices[s.id], buyer, k).unit_price
            for k in sorted(prices[s.id].tiers)
            if k <= p.max_qty
        }
        shop_skus.append(
            ShopSkuOut(
                id=s.id,
                name=s.name,
                attrs=dict(s.attrs),
                unit_price=unit,
                market_price=s.market_price,
                tier_prices={k: v for k, v in tiers.items() if v < unit},
                available=available,
                in_stock=in_stock,
            )
        )
    return ShopProductOut(
        id=p.id,
        category_id=p.category_id,
        name=p.name,
        summary=p.summary,
        description_html=p.description_html,
        images=list(p.images),
        delivery_type=p.delivery_type,
        min_qty=p.min_qty,
        max_qty=p.max_qty,
        per_user_limit=p.per_user_limit,
        buyer_fields=[BuyerField.model_validate(f) for f in p.buyer_fields],
        tags=tags,
        price_from=min((s.unit_price for s in shop_skus), default=Decimal(0)),
        skus=shop_skus,
    )


async def _shop_view(
    session: AsyncSession, products: list[Product], buyer: pricing.Buyer
) -> list[ShopProductOut]:
    out = []
    tags = await service.tags_of(session, [p.id for p in products])
    for p in products:
        skus = [s for s in await service.skus_of(session, p.id) if s.active]
        if not skus:
            continue
        prices = await service.load_prices(session, [s.id for s in skus])
        stock = await inventory.stock_for_skus(session, [s.id for s in skus])
        available = {sku_id: st.available for sku_id, st in stock.items()}
        on_demand = (
            await sourcing.sourced_skus(session, [s.id for s in skus])
            if p.delivery_type == "card_key"
            else set()
        )
        out.append(_shop_product(p, skus, prices, tags[p.id], buyer, available, on_demand))
    return out


@shop_router.get(
    "/categories",
    operation_id="shop:list_categories",
    response_model=list[CategoryOut],
    responses={304: {"description": "Not modified (ETag)"}},
)
async def shop_categories(request: Request, session: DbSession, _: MaybeSignedIn) -> Response:
    """Visible categories that have products on sale."""
    tree = await service.category_tree(session, shop=True)
    return etag_response(request, [CategoryOut.model_validate(c) for c in tree])


@shop_router.get(
    "/products",
    operation_id="shop:list_products",
    response_model=list[ShopProductOut],
    responses={304: {"description": "Not modified (ETag)"}, **error_responses(401, 422)},
)
async def shop_products(
    request: Request,
    session: DbSession,
    actor: MaybeSignedIn,
    category_id: Id | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Products on sale, with *your* price (guest, member level or reseller tier)."""
    rows = await service.shop_products(session, category_id=category_id, q=q, tag=tag)
    view = await _shop_view(session, list(rows), await _buyer(session, actor))
    return etag_response(request, view)


@shop_router.get(
    "/products/{product_id}",
    operation_id="shop:get_product",
    response_model=ShopProductOut,
    responses={304: {"description": "Not modified (ETag)"}, **error_responses(401, 404)},
)
async def shop_product(
    product_id: Id, request: Request, session: DbSession, actor: MaybeSignedIn
) -> Response:
    p = await service.shop_product(session, product_id)
    view = await _shop_view(session, [p], await _buyer(session, actor))
    if not view:
        raise NotFound("No such product.")
    return etag_response(request, view[0])


@shop_router.get(
    "/skus/{sku_id}/quote",
    operation_id="shop:quote",
    response_model=QuoteOut,
    responses=error_responses(401, 404, 422),
)
async def quote(
    sku_id: Id,
    session: DbSession,
    actor: MaybeSignedIn,
    quantity: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> QuoteOut:
    """What you would pay for ``quantity`` of this SKU (the order uses the same function)."""
    sku, product = await service.sku_for_sale(session, sku_id)
    if not product.min_qty <= quantity <= product.max_qty:
        raise QuantityOutOfRange(
            f"Buy between {product.min_qty} and {product.max_qty} of this product."
        )
    prices = await service.load_prices(session, [sku.id])
    q = pricing.quote(prices[sku.id], await _buyer(session, actor), quantity)
    return QuoteOut(
        sku_id=sku.id, quantity=q.quantity, unit_price=q.unit_price, total=q.total, rule=q.rule
    )
