"""Selling keys: claim them for an order in the buyer's transaction (``SoldOut`` takes none),
then check the SKU's low-stock alert at most once a second per process."""

from __future__ import annotations

import time
from contextlib import nullcontext

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog.models import Product
from kameng_api.inventory.errors import SoldOut
from kameng_api.inventory.gate import mark_sold_out
from kameng_api.inventory.models import STOCK_SLOTS
from kameng_api.inventory.stock import check_low_stock


async def allocate(
    session: AsyncSession, sku_id: int, product_id: int, quantity: int, order_id: int
) -> list[int]:
    """Take ``quantity`` keys out of stock for an order, in the caller's transaction (the one
    that records the delivery), or raise ``SoldOut`` and take none.

    Keys are claimed with ``FOR UPDATE SKIP LOCKED``: concurrent buyers never wait on each
    other's keys and never get the same one. A looping product (one key sold many times)
    hands out its oldest available key and counts the sale on it."""
    product = await session.get(Product, product_id)
    assert product is not None
    # SoldOut must leave nothing behind. Only a multi-key claim can change rows and still
    # fail (it found too few); it runs in a savepoint. A single-key claim changes nothing
    # when it finds none, and saves the two round trips.
    partial_possible = quantity > 1 and not product.looping_keys
    async with session.begin_nested() if partial_possible else nullcontext():
        if product.looping_keys:
            key_id = (
                await session.execute(
                    text(
                        "UPDATE inventory_keys SET sold_count = sold_count + :n, sold_at = now()"
                        " WHERE id = (SELECT id FROM inventory_keys WHERE sku_id = :sku"
                        " AND state = 'available' ORDER BY id LIMIT 1) RETURNING id"
                    ),
                    {"sku": sku_id, "n": quantity},
                )
            ).scalar_one_or_none()
            if key_id is None:
                raise SoldOut("已售罄 (sold out)")
            return [key_id]
        ids = list(
            (
                await session.execute(
                    text(
                        "UPDATE inventory_keys SET state = 'sold', order_id = :order,"
                        " sold_count = 1, sold_at = now() WHERE id IN (SELECT id FROM"
                        " inventory_keys WHERE sku_id = :sku AND state = 'available'"
                        " ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id"
                    ),
                    {"sku": sku_id, "n": quantity, "order": order_id},
                )
            ).scalars()
        )
        if len(ids) < quantity:
            if not ids:
                await mark_sold_out(sku_id)
            raise SoldOut(
                "库存不足 (sold out)"
                if not ids
                else f"库存不足，仅剩 {len(ids)} 件 (not enough stock)"
            )
        # one of the SKU's slots, not its stock row: concurrent buyers do not queue on a row
        await session.execute(
            text(
                "INSERT INTO inventory_stock_deltas AS d (sku_id, slot, available, sold)"
                " VALUES (:sku, :slot, -CAST(:n AS bigint), :n)"
                " ON CONFLICT (sku_id, slot) DO UPDATE"
                " SET available = d.available + excluded.available,"
                " sold = d.sold + excluded.sold"
            ),
            {"sku": sku_id, "slot": order_id % STOCK_SLOTS, "n": quantity},
        )
    await after_sale(session, sku_id)
    return sorted(ids)


async def after_sale(session: AsyncSession, sku_id: int) -> None:
    """Check the SKU's low-stock alert after a sale (at most once a second per process)."""
    if low_stock_due(sku_id):
        await check_low_stock(session, [sku_id])


# A purchase checks its SKU's low-stock alert at most this often per process; the fold task
# checks every SKU it folds, so an alert is never more than a few seconds late.
_LOW_STOCK_EVERY_S = 1.0
_low_stock_checked: dict[int, float] = {}


def low_stock_due(sku_id: int) -> bool:
    now = time.monotonic()
    if now - _low_stock_checked.get(sku_id, -_LOW_STOCK_EVERY_S) < _LOW_STOCK_EVERY_S:
        return False
    _low_stock_checked[sku_id] = now
    return True
