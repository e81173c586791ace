"""Stock counters per SKU (``inventory_stock`` plus the purchases' slot rows in
``inventory_stock_deltas``): move them, read them, fold the slots in, and open or close the
low-stock alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.alerts import service as alerts
from kameng_api.catalog import service as catalog
from kameng_api.catalog.models import Product, Sku
from kameng_api.core.metrics import STOCK_AVAILABLE, STOCK_LOW
from kameng_api.inventory.models import Stock, StockDelta

LOW_STOCK_ALERT = "inventory.low_stock"


async def move_stock(session: AsyncSession, sku_id: int, product_id: int, **deltas: int) -> None:
    """Add ``deltas`` (available=, voided=, …) to the SKU's stock row, creating it if needed."""
    values = {k: v for k, v in deltas.items() if v}
    if not values:
        return
    # (an upsert would check its proposed row, negative deltas included, against the CHECK)
    await session.execute(
        insert(Stock)
        .values(sku_id=sku_id, product_id=product_id)
        .on_conflict_do_nothing(index_elements=[Stock.sku_id])
    )
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == sku_id)
        .values(**{k: getattr(Stock, k) + v for k, v in values.items()}, updated_at=func.now())
    )


@dataclass(frozen=True)
class SkuStock:
    sku_id: int
    product_id: int
    sku_name: str
    available: int
    reserved: int
    sold: int
    voided: int
    threshold: int
    low_stock: bool


@dataclass(frozen=True)
class StockCount:
    available: int
    reserved: int
    sold: int
    voided: int


def _deltas(sku_ids: Any) -> Any:
    """Per SKU, what purchases took since the last fold (a subquery)."""
    return (
        select(
            StockDelta.sku_id,
            func.sum(StockDelta.available).label("available"),
            func.sum(StockDelta.sold).label("sold"),
        )
        .where(StockDelta.sku_id.in_(sku_ids))
        .group_by(StockDelta.sku_id)
        .subquery()
    )


async def stock_for_skus(session: AsyncSession, sku_ids: list[int]) -> dict[int, StockCount]:
    """Stock per SKU: its counters plus the not yet folded purchase slots."""
    if not sku_ids:
        return {}
    d = _deltas(sku_ids)
    rows = await session.execute(
        select(
            Stock.sku_id,
            Stock.available + func.coalesce(d.c.available, 0),
            Stock.reserved,
            Stock.sold + func.coalesce(d.c.sold, 0),
            Stock.voided,
        )
        .outerjoin(d, d.c.sku_id == Stock.sku_id)
        .where(Stock.sku_id.in_(sku_ids))
    )
    return {r[0]: StockCount(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows.all()}


async def fold_stock(session: AsyncSession) -> list[int]:
    """Move the purchase slots into the SKUs' stock rows (one statement: the slots taken are
    exactly the ones added); then check those SKUs' low-stock alerts. Returns the SKUs."""
    folded = list(
        (
            await session.execute(
                text(
                    "WITH d AS (DELETE FROM inventory_stock_deltas RETURNING sku_id, available,"
                    " sold), agg AS (SELECT sku_id, sum(available) AS a, sum(sold) AS s FROM d"
                    " GROUP BY sku_id) UPDATE inventory_stock st SET available ="
                    " st.available + agg.a, sold = st.sold + agg.s, updated_at = now()"
                    " FROM agg WHERE st.sku_id = agg.sku_id RETURNING st.sku_id"
                )
            )
        ).scalars()
    )
    await check_low_stock(session, folded)
    return folded


async def product_stock(session: AsyncSession, product_id: int) -> tuple[Product, list[SkuStock]]:
    product = await catalog.get_product(session, product_id)
    skus = list(await catalog.skus_of(session, product_id))
    stock = await stock_for_skus(session, [s.id for s in skus])
    open_alerts = await alerts.open_alerts(session, LOW_STOCK_ALERT, [f"sku:{s.id}" for s in skus])
    out = []
    for s in skus:
        st = stock.get(s.id)
        out.append(
            SkuStock(
                sku_id=s.id,
                product_id=product_id,
                sku_name=s.name,
                available=st.available if st else 0,
                reserved=st.reserved if st else 0,
                sold=st.sold if st else 0,
                voided=st.voided if st else 0,
                threshold=product.stock_alert_threshold,
                low_stock=f"sku:{s.id}" in open_alerts,
            )
        )
    return product, out


async def check_low_stock(session: AsyncSession, sku_ids: list[int]) -> None:
    """Open a low-stock alert for each SKU at or below its product's threshold; close it once
    restocked above."""
    if not sku_ids:
        return
    d = _deltas(sku_ids)
    rows = await session.execute(
        select(
            Sku.id,
            Sku.name,
            Product.id,
            Product.name,
            Product.stock_alert_threshold,
            func.coalesce(Stock.available, 0) + func.coalesce(d.c.available, 0),
        )
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(Stock, Stock.sku_id == Sku.id)
        .outerjoin(d, d.c.sku_id == Sku.id)
        .where(Sku.id.in_(sku_ids), Product.delivery_type == "card_key")
    )
    for sku_id, sku_name, product_id, product_name, threshold, available in rows.all():
        subject = f"sku:{sku_id}"
        if threshold > 0 and available <= threshold:
            await alerts.raise_alert(
                session,
                LOW_STOCK_ALERT,
                subject,
                f"库存不足：{product_name} / {sku_name} 剩余 {available}（阈值 {threshold}）",
                detail={
                    "product_id": product_id,
                    "sku_id": sku_id,
                    "available": int(available),
                    "threshold": threshold,
                },
            )
        else:
            await alerts.resolve_alert(session, LOW_STOCK_ALERT, subject)


async def stock_figures(session: AsyncSession) -> tuple[int, int]:
    """Keys on sale (all SKUs) and card-key SKUs at or below their threshold, for the
    gauges (the worker's sweeper refreshes them)."""
    row = (
        await session.execute(
            text(
                "WITH d AS (SELECT sku_id, sum(available) AS a FROM inventory_stock_deltas"
                " GROUP BY sku_id), s AS (SELECT k.id, p.stock_alert_threshold AS t,"
                " coalesce(st.available, 0) + coalesce(d.a, 0) AS a FROM catalog_skus k"
                " JOIN catalog_products p ON p.id = k.product_id"
                " LEFT JOIN inventory_stock st ON st.sku_id = k.id"
                " LEFT JOIN d ON d.sku_id = k.id WHERE p.delivery_type = 'card_key')"
                " SELECT coalesce(sum(a), 0) AS available,"
                " count(*) FILTER (WHERE t > 0 AND a <= t) AS low FROM s"
            )
        )
    ).one()
    STOCK_AVAILABLE.set(int(row.available))
    STOCK_LOW.set(int(row.low))
    return int(row.available), int(row.low)
