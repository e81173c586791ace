"""Catalog: categories, products with SKUs, the pricing function, price sanity, the shop."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.catalog import service as catalog_service
from kameng_api.catalog.pricing import Buyer, SkuPrices, quote
from kameng_api.core import db
from kameng_api.core.actor import UserKind
from kameng_api.core.clock import clock
from kameng_api.core.periodic import PeriodicTask, run_task
from kameng_api.identity.models import User
from tests.support.factories import login, make_user

D = Decimal

# ---- the pricing function (pure) ------------------------------------------------------------

PRICES = SkuPrices(
    base=D("10.00"),
    member={1: D("9.50"), 3: D("9.00")},
    reseller={1: D("8.80"), 2: D("8.00")},
    tiers={10: D("9.20"), 100: D("8.50")},
)


def test_guests_pay_the_base_price_and_tiers_apply_by_quantity() -> None:
    q = quote(PRICES, Buyer.guest(), 1)
    assert (q.unit_price, q.total, q.rule) == (D("10.00"), D("10.00"), "base")
    q = quote(PRICES, Buyer.guest(), 10)
    assert (q.unit_price, q.total, q.rule) == (D("9.20"), D("92.00"), "tier:10")
    assert quote(PRICES, Buyer.guest(), 99).rule == "tier:10"
    assert quote(PRICES, Buyer.guest(), 100).unit_price == D("8.50")


def test_members_and_resellers_get_their_level_and_the_lowest_price_wins() -> None:
    member2 = Buyer(kind=UserKind.customer, member_level=2)
    assert quote(PRICES, member2, 1).rule == "member:1"  # highest level at or below 2
    assert quote(PRICES, Buyer(kind=UserKind.customer, member_level=5), 1).unit_price == D("9.00")
    # a member buying 10 gets the tier price when it is lower than the member price
    assert quote(PRICES, member2, 10).unit_price == D("9.20")
    reseller = Buyer(kind=UserKind.reseller, reseller_tier=2)
    assert quote(PRICES, reseller, 100).unit_price == D("8.00")
    # levels only count for their own kind of buyer
    assert quote(PRICES, Buyer(kind=UserKind.customer, reseller_tier=2), 1).rule == "base"


def test_totals_are_rounded_to_cents_once() -> None:
    p = SkuPrices(base=D("0.3333"))
    q = quote(p, Buyer.guest(), 3)
    assert q.unit_price == D("0.3333")
    assert q.total == D("1.00")


# ---- API ------------------------------------------------------------------------------------


def sku(name: str = "100元", **kw: Any) -> dict[str, Any]:
    return {"name": name, "base_price": "98.00", "cost_price": "95.00", **kw}


def product(category_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "category_id": category_id,
        "name": f"Steam 充值卡 {uuid.uuid4().hex[:4]}",
        "delivery_type": "card_key",
        "skus": [sku()],
        **kw,
    }


async def _staff(client: httpx.AsyncClient, role: str = "operator") -> dict[str, str]:
    return await login(client, await make_user(roles=(role,)))


async def _category(client: httpx.AsyncClient, h: dict[str, str], **kw: Any) -> int:
    r = await client.post(
        "/api/v1/catalog/categories", json={"name": f"游戏 {uuid.uuid4().hex[:4]}", **kw}, headers=h
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_categories_have_two_levels(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    top = await _category(client, h, icon="gamepad", sort=1)
    child = await _category(client, h, parent_id=top)
    r = await client.post(
        "/api/v1/catalog/categories", json={"name": "三级", "parent_id": child}, headers=h
    )
    assert r.status_code == 409
    assert r.json()["code"] == "category_too_deep"
    dup = await client.get("/api/v1/catalog/categories", headers=h)
    name = next(c for c in dup.json() if c["id"] == top)["name"]
    r = await client.post("/api/v1/catalog/categories", json={"name": name}, headers=h)
    assert r.json()["code"] == "category_name_taken"
    tree = (await client.get("/api/v1/catalog/categories", headers=h)).json()
    node = next(c for c in tree if c["id"] == top)
    assert [c["id"] for c in node["children"]] == [child]
    # a category with products cannot be deleted; an empty one can
    await client.post("/api/v1/catalog/products", json=product(child), headers=h)
    r = await client.delete(f"/api/v1/catalog/categories/{top}", headers=h)
    assert r.json()["code"] == "category_not_empty"
    empty = await _category(client, h)
    assert (
        await client.delete(f"/api/v1/catalog/categories/{empty}", headers=h)
    ).status_code == 204


async def test_price_below_cost_needs_confirmation_and_market_hints_warn(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client, "marketing")
    cat = await _category(client, h)
    cheap = product(cat, skus=[sku(base_price="90.00", market_price="100.00")])
    r = await client.post("/api/v1/catalog/products", json=cheap, headers=h)
    assert r.status_code == 422
    assert r.json()["code"] == "price_below_cost"
    listed = await client.get("/api/v1/catalog/products", params={"category_id": cat}, headers=h)
    assert listed.json()["items"] == []  # nothing saved
    r = await client.post(
        "/api/v1/catalog/products", json={**cheap, "confirm_below_cost": True}, headers=h
    )
    assert r.status_code == 201, r.text
    warnings = r.json()["warnings"]
    assert {w["code"] for w in warnings} == {"below_cost", "below_market"}
    market = next(w for w in warnings if w["code"] == "below_market")
    assert market["message_zh"] == "该价格低于市场均价10%"
    assert market["price"] == "90.0000"

    # the editor's live check says the same without saving
    r = await client.post(
        "/api/v1/catalog/price-check",
        json={"sku": sku(base_price="89.00", cost_price="80.00", market_price="100.00")},
        headers=h,
    )
    assert r.json()["below_cost"] == []
    assert r.json()["hints"][0]["message_zh"] == "该价格低于市场均价11%"


async def test_negative_prices_and_bad_shapes_are_refused(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    for bad in (
        product(cat, skus=[sku(base_price="-1")]),
        product(cat, skus=[sku(tier_prices={"1": "5.00"})]),
        product(cat, min_qty=5, max_qty=2),
        product(cat, status="scheduled"),
        product(cat, skus=[]),
        product(cat, buyer_fields=[{"key": "区服", "label": "x"}]),
    ):
        r = await client.post("/api/v1/catalog/products", json=bad, headers=h)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "validation_failed"
    r = await client.post("/api/v1/catalog/products", json=product(999999), headers=h)
    assert r.json()["code"] == "unknown_category"


async def test_rich_text_is_sanitized(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    html = (
        '<p onclick="steal()">自动发货<script>alert(1)</script><a href="javascript:x">链接</a></p>'
    )
    r = await client.post(
        "/api/v1/catalog/products", json=product(cat, description_html=html), headers=h
    )
    saved = r.json()["product"]["description_html"]
    assert "自动发货" in saved
    assert "script" not in saved
    assert "onclick" not in saved
    assert "javascript" not in saved


async def test_changing_prices_needs_the_pricing_permission(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    ah = await login(client, admin)
    role = await client.post(
        "/api/v1/roles",
        json={"key": "editor", "name": "编辑", "permissions": ["catalog:read", "catalog:write"]},
        headers=ah,
    )
    editor = await make_user()
    await client.put(
        f"/api/v1/users/{editor.user.id}/roles", json={"role_ids": [role.json()["id"]]}, headers=ah
    )
    eh = await login(client, editor)
    cat = await _category(client, eh)
    r = await client.post("/api/v1/catalog/products", json=product(cat), headers=eh)
    assert r.status_code == 403
    created = await client.post("/api/v1/catalog/products", json=product(cat), headers=ah)
    p = created.json()["product"]
    body = product(cat, name="改名了", skus=[{**sku(), "id": p["skus"][0]["id"]}])
    r = await client.put(f"/api/v1/catalog/products/{p['id']}", json=body, headers=eh)
    assert r.status_code == 200, r.text  # a rename is fine
    assert r.json()["product"]["version"] == 2
    body["skus"][0]["base_price"] = "97.00"
    r = await client.put(f"/api/v1/catalog/products/{p['id']}", json=body, headers=eh)
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"


async def test_shop_shows_listed_products_with_each_buyers_price(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    body = product(
        cat,
        status="listed",
        skus=[
            sku(
                base_price="98.00",
                member_prices={"1": "97.00"},
                reseller_prices={"1": "96.00"},
                tier_prices={"10": "97.50"},
            )
        ],
    )
    listed = (await client.post("/api/v1/catalog/products", json=body, headers=h)).json()
    hidden = (await client.post("/api/v1/catalog/products", json=product(cat), headers=h)).json()

    guest = await client.get("/api/v1/shop/products", params={"category_id": cat})
    assert [p["id"] for p in guest.json()] == [listed["product"]["id"]]
    assert guest.json()[0]["price_from"] == "98.0000"
    assert guest.json()[0]["skus"][0]["tier_prices"] == {"10": "97.5000"}
    assert "cost_price" not in guest.json()[0]["skus"][0]
    r = await client.get(f"/api/v1/shop/products/{hidden['product']['id']}")
    assert r.status_code == 404

    member = await make_user(kind=UserKind.customer)
    reseller = await make_user(kind=UserKind.reseller)
    async with db.unit_of_work() as s:
        await s.execute(update(User).where(User.id == member.user.id).values(member_level=1))
        await s.execute(update(User).where(User.id == reseller.user.id).values(reseller_tier=1))
    for acct, expected in ((member, "97.0000"), (reseller, "96.0000")):
        r = await client.get(
            f"/api/v1/shop/products/{listed['product']['id']}",
            headers=await login(client, acct),
        )
        assert r.json()["price_from"] == expected
    sku_id = listed["product"]["skus"][0]["id"]
    q = await client.get(f"/api/v1/shop/skus/{sku_id}/quote", params={"quantity": 10})
    assert q.json() == {
        "sku_id": sku_id,
        "quantity": 10,
        "unit_price": "97.5000",
        "total": "975.0000",
        "rule": "tier:10",
    }
    q = await client.get(f"/api/v1/shop/skus/{sku_id}/quote", params={"quantity": 1000})
    assert q.json()["code"] == "quantity_out_of_range"


async def test_shop_answers_carry_etags(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    await client.post("/api/v1/catalog/products", json=product(cat, status="listed"), headers=h)
    r = await client.get("/api/v1/shop/products")
    tag = r.headers["etag"]
    again = await client.get("/api/v1/shop/products", headers={"if-none-match": tag})
    assert again.status_code == 304
    assert again.content == b""
    await client.post("/api/v1/catalog/products", json=product(cat, status="listed"), headers=h)
    changed = await client.get("/api/v1/shop/products", headers={"if-none-match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    cats = await client.get("/api/v1/shop/categories")
    assert cat in [c["id"] for c in cats.json()]


async def test_scheduled_products_are_on_sale_only_inside_their_window(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    now = clock.now()
    later = product(cat, status="scheduled", list_at=(now + timedelta(hours=1)).isoformat())
    window = product(
        cat,
        status="scheduled",
        list_at=(now - timedelta(hours=1)).isoformat(),
        unlist_at=(now + timedelta(hours=1)).isoformat(),
    )
    over = product(cat, status="scheduled", unlist_at=(now - timedelta(minutes=1)).isoformat())
    ids = []
    for body in (later, window, over):
        r = await client.post("/api/v1/catalog/products", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json()["product"]["id"])
    shop = await client.get("/api/v1/shop/products", params={"category_id": cat})
    assert [p["id"] for p in shop.json()] == [ids[1]]


async def test_bulk_list_and_unlist(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    ids = []
    for _ in range(3):
        r = await client.post("/api/v1/catalog/products", json=product(cat), headers=h)
        ids.append(r.json()["product"]["id"])
    r = await client.post(
        "/api/v1/catalog/products/bulk-status",
        json={"product_ids": ids, "status": "listed"},
        headers=h,
    )
    assert r.json() == {"updated": 3}
    listed = await client.get(
        "/api/v1/catalog/products", params={"category_id": cat, "status": "listed"}, headers=h
    )
    assert sorted(p["id"] for p in listed.json()["items"]) == sorted(ids)
    shop = await client.get("/api/v1/shop/products", params={"category_id": cat})
    assert len(shop.json()) == 3
    # 客服 can look but not change
    cs = await _staff(client, "customer_service")
    assert (await client.get("/api/v1/catalog/products", headers=cs)).status_code == 200
    r = await client.post(
        "/api/v1/catalog/products/bulk-status",
        json={"product_ids": ids, "status": "unlisted"},
        headers=cs,
    )
    assert r.status_code == 403


async def test_the_schedule_job_lists_and_unlists_on_time(client: httpx.AsyncClient) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    now = clock.now()
    soon = product(
        cat,
        status="scheduled",
        list_at=(now + timedelta(minutes=5)).isoformat(),
        unlist_at=(now + timedelta(hours=2)).isoformat(),
    )
    until = product(cat, status="listed", unlist_at=(now + timedelta(hours=1)).isoformat())
    a = (await client.post("/api/v1/catalog/products", json=soon, headers=h)).json()["product"]
    b = (await client.post("/api/v1/catalog/products", json=until, headers=h)).json()["product"]

    async def status(pid: int) -> str:
        r = await client.get(f"/api/v1/catalog/products/{pid}", headers=h)
        return str(r.json()["status"])

    async with db.unit_of_work() as s:
        assert await catalog_service.apply_schedules(s, now) == ([], [])
    async with db.unit_of_work() as s:
        listed, unlisted = await catalog_service.apply_schedules(s, now + timedelta(minutes=6))
    assert (listed, unlisted) == ([a["id"]], [])
    assert await status(a["id"]) == "listed"
    async with db.unit_of_work() as s:
        listed, unlisted = await catalog_service.apply_schedules(s, now + timedelta(hours=3))
    assert sorted(unlisted) == sorted([a["id"], b["id"]])
    assert await status(b["id"]) == "unlisted"
    log = await client.get(
        "/api/v1/audit-log", params={"action": "catalog.auto_"}, headers=await _admin(client)
    )
    assert [e["action"] for e in log.json()["items"]] == [
        "catalog.auto_unlist",
        "catalog.auto_list",
    ]


async def test_a_periodic_task_runs_on_one_worker_at_a_time(app_db: str) -> None:
    runs: list[int] = []

    async def slow(session: AsyncSession) -> None:
        runs.append(1)
        await asyncio.sleep(0.5)

    task = PeriodicTask("test:slow", 1, slow)
    results = await asyncio.gather(run_task(task), run_task(task))
    assert sorted(results) == [False, True]
    assert runs == [1]
    assert await run_task(task) is True  # the lock ends with the transaction


async def _admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await login(client, await make_user(roles=("super_admin",), mfa=True))


async def test_hiding_a_category_hides_its_products_from_the_shop(
    client: httpx.AsyncClient,
) -> None:
    h = await _staff(client)
    cat = await _category(client, h)
    await client.post("/api/v1/catalog/products", json=product(cat, status="listed"), headers=h)
    shop = await client.get("/api/v1/shop/products", params={"category_id": cat})
    assert len(shop.json()) == 1
    r = await client.patch(f"/api/v1/catalog/categories/{cat}", json={"visible": False}, headers=h)
    assert r.status_code == 200
    shop = await client.get("/api/v1/shop/products", params={"category_id": cat})
    assert shop.json() == []
