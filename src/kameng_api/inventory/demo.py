"""Demo stock: card keys for the demo shop's card-key products, imported like an operator
would (upload → report → confirm); one SKU is left under its low-stock threshold."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import service as catalog
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.demo import STEPS
from kameng_api.identity.models import User
from kameng_api.inventory import service
from kameng_api.inventory.keyfile import ReadOptions

# keys per SKU, in SKU order (the 100 元 SKU stays under the product's threshold of 10)
DEMO_STOCK = (40, 8)


async def seed_stock(session: AsyncSession) -> None:
    admin_id = (
        await session.execute(select(User.id).where(User.email == "admin@demo.kameng.example"))
    ).scalar_one()
    actor = Actor(
        user_id=admin_id,
        kind=UserKind.staff,
        session_id="demo-seed",
        permissions=frozenset({"inventory:read", "inventory:import"}),
        meta=RequestMeta(user_agent="kameng seed-demo"),
    )
    for product, skus in await catalog.card_key_products(session):
        for sku, count in zip(skus, DEMO_STOCK, strict=False):
            lines = [
                f"DEMO{product.id:02d}{sku.id:02d}{i:04d},"
                f"{'-'.join(secrets.token_hex(2).upper() for _ in range(4))}"
                for i in range(count)
            ]
            batch = await service.stage_import(
                session,
                actor,
                sku.id,
                service.Upload(
                    content="\n".join(lines).encode(),
                    filename="demo-keys.csv",
                    options=ReadOptions(),
                    note="演示数据",
                ),
            )
            await service.confirm(session, actor, batch.id)


STEPS.append(("inventory:demo-stock", seed_stock))
