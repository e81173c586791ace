"""Demo catalog: a few categories and listed products with member/reseller/tier prices."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import service
from kameng_api.catalog.schemas import BuyerField, CategoryIn, ProductIn, SkuIn
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.demo import STEPS
from kameng_api.identity.models import User

D = Decimal


async def seed_catalog(session: AsyncSession) -> None:
    admin_id = (
        await session.execute(select(User.id).where(User.email == "admin@demo.kameng.example"))
    ).scalar_one()
    actor = Actor(
        user_id=admin_id,
        kind=UserKind.staff,
        session_id="demo-seed",
        permissions=frozenset({"catalog:write", "catalog:pricing"}),
        meta=RequestMeta(user_agent="kameng seed-demo"),
    )
    games = await service.create_category(session, actor, CategoryIn(name="游戏点卡", sort=1))
    steam = await service.create_category(
        session, actor, CategoryIn(name="Steam", parent_id=games.id, icon="steam")
    )
    mobile = await service.create_category(
        session, actor, CategoryIn(name="手游充值", parent_id=games.id, sort=2)
    )
    vip = await service.create_category(session, actor, CategoryIn(name="会员卡", sort=2))
    await service.create_product(
        session,
        actor,
        ProductIn(
            category_id=steam.id,
            name="Steam 钱包充值卡",
            summary="自动发卡，秒到账",
            description_html="<p>购买后在订单页查看卡密，登录 Steam 兑换。</p>",
            status="listed",
            delivery_type="card_key",
            tags=["热卖", "自动发货"],
            stock_alert_threshold=10,
            skus=[
                SkuIn(
                    name="50 元",
                    attrs={"face_value": "50"},
                    base_price=D("48.50"),
                    cost_price=D("46.00"),
                    market_price=D("49.00"),
                    member_prices={1: D("48.00")},
                    reseller_prices={1: D("47.00")},
                    tier_prices={10: D("48.00")},
                ),
                SkuIn(
                    name="100 元",
                    attrs={"face_value": "100"},
                    base_price=D("96.50"),
                    cost_price=D("92.00"),
                    market_price=D("98.00"),
                    member_prices={1: D("95.80")},
                    reseller_prices={1: D("94.00")},
                ),
            ],
        ),
    )
    await service.create_product(
        session,
        actor,
        ProductIn(
            category_id=mobile.id,
            name="王者荣耀 点券直充",
            summary="填写游戏账号与区服，自动直充",
            status="listed",
            delivery_type="direct_recharge",
            buyer_fields=[
                BuyerField(key="account", label="游戏账号 / QQ 号", max_length=32),
                BuyerField(
                    key="region",
                    label="区服",
                    type="select",
                    options=["安卓QQ", "苹果QQ", "安卓微信"],
                ),
            ],
            skus=[SkuIn(name="60 点券", base_price=D("6.00"), cost_price=D("5.70"))],
        ),
    )
    await service.create_product(
        session,
        actor,
        ProductIn(
            category_id=vip.id,
            name="视频会员月卡",
            status="listed",
            delivery_type="manual",
            per_user_limit=2,
            skus=[SkuIn(name="30 天", base_price=D("19.90"), cost_price=D("15.00"))],
        ),
    )


STEPS.append(("catalog:demo-products", seed_catalog))
