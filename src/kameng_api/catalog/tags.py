"""Product tags: replace a product's tags, read the tags of many products."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog.models import product_tags


async def write_tags(session: AsyncSession, product_id: int, tags: list[str]) -> None:
    await session.execute(delete(product_tags).where(product_tags.c.product_id == product_id))
    clean = sorted({t.strip() for t in tags if t.strip()})
    if clean:
        await session.execute(
            insert(product_tags), [{"product_id": product_id, "tag": t} for t in clean]
        )


async def tags_of(session: AsyncSession, product_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in product_ids}
    if product_ids:
        rows = await session.execute(
            select(product_tags.c.product_id, product_tags.c.tag)
            .where(product_tags.c.product_id.in_(product_ids))
            .order_by(product_tags.c.tag)
        )
        for pid, tag in rows:
            out[pid].append(tag)
    return out
