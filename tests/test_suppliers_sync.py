"""Catalogue sync (同步商品目录) and reconciliation (对账) against Fulu-protocol simulators on
real local ports, through the staff API; jobs are run exactly as the worker runs them
(``run_outbox_job``), repeated where at-least-once delivery would repeat them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.suppliers import reconcile, sync
from kameng_api.suppliers.fulu import sign
from kameng_api.suppliers.fulu_simulator import FuluSimulator
from kameng_api.suppliers.models import UpstreamOrder
from tests.support.factories import login, make_user
from tests.support.procs import free_port, serve_app, settings_env
from tests.test_fulfilment import ACCOUNT_FIELDS
from tests.test_orders import _shop
from tests.test_suppliers import APP_KEY, Upstreams, _buy, _deliver, _rid, up  # noqa: F401

SECRET = "catalogue-secret-0123456789abcdef!!"


class CatalogueFulu(FuluSimulator):
    """The Fulu simulator with a catalogue of our choosing (``products``)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.products: list[dict[str, Any]] = []

    async def _gateway(self, request: Request) -> Response:
        try:
            env = json.loads(await request.body())
            signed = env.get("app_key") == self.app_key and secrets.compare_digest(
                sign(env, self.secret), str(env.get("sign"))
            )
        except (ValueError, AttributeError):
            signed = False
        if signed and env.get("method") == "fulu.goods.list.get" and self.mode != "http500":
            self.calls["fulu.goods.list.get"] += 1
            return self._answer(0, "", self.products)
        return await super()._gateway(request)  # checks the signature, answers the rest


def _products(n: int, *, price: str = "10.0000") -> list[dict[str, Any]]:
    return [
        {
            "product_id": f"P{i:05d}",
            "product_name": f"商品 {i:05d} 腾讯Q币",
            "purchase_price": price,
            "product_type": "直充",
            "stock_status": "有" if i % 7 else "断货",
        }
        for i in range(1, n + 1)
    ]


@dataclass
class Shop:
    sim: CatalogueFulu
    supplier_id: int
    admin: dict[str, str]
    operator: dict[str, str]
    sku_ids: list[int]


@pytest.fixture
async def shop(client: httpx.AsyncClient, app_db: str) -> AsyncIterator[Shop]:
    with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_RECHARGE_SUPPLIER_URL=""):
        sim = CatalogueFulu(APP_KEY, SECRET)
        port = free_port()
        server, task = await serve_app(sim.app, port)
        admin = await login(client, await make_user(roles=("super_admin",), mfa=True))
        operator = await login(client, await make_user(roles=("operator",)))
        r = await client.post(
            "/api/v1/suppliers",
            json={
                "name": "福禄目录",
                "protocol": "fulu",
                "base_url": f"http://127.0.0.1:{port}/api/getway",
                "credentials": {"app_key": APP_KEY, "app_secret": SECRET},
                "timeout_s": 5.0,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        skus = []
        for _ in range(3):
            _, sku_id, _ = await _shop(
                client,
                0,
                price="12.00",
                delivery_type="direct_recharge",
                buyer_fields=ACCOUNT_FIELDS,
            )
            skus.append(sku_id)
        try:
            yield Shop(sim, int(r.json()["id"]), admin, operator, skus)
        finally:
            server.should_exit = True
            await task


async def _map(client: httpx.AsyncClient, s: Shop, sku_id: int, product: str, cost: str) -> int:
    r = await client.post(
        f"/api/v1/skus/{sku_id}/supplier-mappings",
        json={"supplier_id": s.supplier_id, "supplier_product_id": product, "cost": cost},
        headers=s.admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _open_jobs(task: str) -> list[int]:
    async with db.sessionmaker()() as s:
        q = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.task == task,
                OutboxMessage.done_at.is_(None),
                OutboxMessage.failed_at.is_(None),
            )
            .order_by(OutboxMessage.id)
        )
        return list((await s.execute(q)).scalars())


async def _start_sync(client: httpx.AsyncClient, s: Shop) -> dict[str, Any]:
    r = await client.post(f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs", headers=s.admin)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def _run_sync(client: httpx.AsyncClient, s: Shop) -> dict[str, Any]:
    """Start a sync, run its job as the worker would, answer the finished run."""
    run = await _start_sync(client, s)
    [job] = await _open_jobs(sync.SYNC_TASK)
    assert await run_outbox_job(registry[sync.SYNC_TASK], job) == "done"
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}", headers=s.operator
    )
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


async def _mapping(client: httpx.AsyncClient, s: Shop, sku_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/skus/{sku_id}/supplier-mappings", headers=s.admin)
    [m] = r.json()
    out: dict[str, Any] = m
    return out


# ---- catalogue sync ------------------------------------------------------------------------


async def test_sync_imports_5000_products_reprices_and_disables_mappings(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    s = shop
    s.sim.products = _products(5000, price="10.5000")
    s.sim.products.append(dict(s.sim.products[0]))  # listed twice: counts once
    repriced = await _map(client, s, s.sku_ids[0], "P00001", "1.00")
    same = await _map(client, s, s.sku_ids[1], "P00002", "10.50")
    gone = await _map(client, s, s.sku_ids[2], "NOT-LISTED", "3.00")

    run = await _start_sync(client, s)
    assert (run["status"], run["total"], run["processed"]) == ("running", None, 0)
    # one run per supplier at a time
    r = await client.post(f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs", headers=s.admin)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "sync_running"

    [job] = await _open_jobs(sync.SYNC_TASK)
    t0 = time.monotonic()
    assert await run_outbox_job(registry[sync.SYNC_TASK], job) == "done"
    took = time.monotonic() - t0
    assert took < 10, f"5,000 products took {took:.1f} s"
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}", headers=s.operator
    )
    done = r.json()
    assert done["status"] == "done", done
    assert (done["total"], done["processed"], done["created"], done["updated"]) == (
        5000,
        5000,
        5000,
        0,
    )
    assert (done["repriced"], done["disabled"], done["missing"]) == (1, 1, 0)
    assert done["finished_at"] is not None
    assert done["error"] is None
    assert s.sim.calls["fulu.goods.list.get"] == 1

    # the mappings changed, and the run says how
    assert (await _mapping(client, s, s.sku_ids[0]))["cost"] == "10.5000"
    assert (await _mapping(client, s, s.sku_ids[1]))["cost"] == "10.5000"
    assert (await _mapping(client, s, s.sku_ids[2]))["enabled"] is False
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}/changes",
        headers=s.operator,
    )
    changes = {c["mapping_id"]: c for c in r.json()["items"]}
    assert set(changes) == {repriced, gone}
    assert (changes[repriced]["change"], changes[repriced]["old_cost"]) == ("cost", "1.0000")
    assert changes[repriced]["new_cost"] == "10.5000"
    assert changes[gone]["change"] == "disabled"
    assert "disabled" in changes[gone]["note"]
    assert same not in changes

    # the job delivered again does nothing
    assert (await run_outbox_job(registry[sync.SYNC_TASK], job)).startswith("skipped")
    async with db.unit_of_work() as session:  # the handler itself, run again
        await sync.run_sync(session, run["id"])
    again = (
        await client.get(
            f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}", headers=s.operator
        )
    ).json()
    assert again == done

    # the catalogue is searchable, with the SKUs already mapped
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/products",
        params={"q": "0001", "limit": 200},
        headers=s.operator,
    )
    items = r.json()["items"]
    assert {i["product_id"] for i in items} == {"P00001"} | {f"P000{n}" for n in range(10, 20)}
    [p1] = [i for i in items if i["product_id"] == "P00001"]
    assert (p1["cost"], p1["mapped_sku_ids"], p1["present"]) == ("10.5000", [s.sku_ids[0]], True)
    [p7] = [i for i in items if i["product_id"] == "P00007"] or [None]
    assert p7 is None  # "P00007" does not contain "0001"
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/products",
        params={"q": "品 00002"},  # by name
        headers=s.operator,
    )
    assert [i["product_id"] for i in r.json()["items"]] == ["P00002"]
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/products",
        params={"q": "P00700", "limit": 5},
        headers=s.operator,
    )
    assert [i["available"] for i in r.json()["items"]] == [False]  # 断货: P00700 (700 % 7)
    page1 = (
        await client.get(
            f"/api/v1/suppliers/{s.supplier_id}/products", params={"limit": 3}, headers=s.operator
        )
    ).json()
    assert len(page1["items"]) == 3
    assert page1["next_before_id"] is not None
    page2 = (
        await client.get(
            f"/api/v1/suppliers/{s.supplier_id}/products",
            params={"limit": 3, "before_id": page1["next_before_id"]},
            headers=s.operator,
        )
    ).json()
    assert not {i["id"] for i in page1["items"]} & {i["id"] for i in page2["items"]}

    # the start is in the operation log
    async with db.sessionmaker()() as session:
        acts = (
            await session.execute(
                select(AuditLog.action).where(AuditLog.action == "suppliers.sync_start")
            )
        ).all()
    assert len(acts) == 1


async def test_a_second_sync_counts_only_what_changed(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    s = shop
    s.sim.products = _products(1200)
    m = await _map(client, s, s.sku_ids[0], "P00005", "10.00")
    first = await _run_sync(client, s)
    assert (first["created"], first["updated"], first["repriced"]) == (1200, 0, 0)

    # the same catalogue again: nothing new, nothing changed, no change rows
    same = await _run_sync(client, s)
    assert (same["created"], same["updated"], same["missing"]) == (0, 0, 0)
    assert (same["repriced"], same["disabled"]) == (0, 0)

    # upstream: 10 products gone (P00005 among them), 3 repriced, 1 renamed, 2 new
    products = [p for p in _products(1200) if not 1 <= int(p["product_id"][1:]) <= 10]
    for p in products[:3]:
        p["purchase_price"] = "11.2500"
    products[3]["product_name"] = "改名了"
    products += [
        {"product_id": "NEW-1", "product_name": "新品一", "purchase_price": "1"},
        {"product_id": "NEW-2", "product_name": "新品二"},  # no price given
    ]
    s.sim.products = products
    third = await _run_sync(client, s)
    assert third["total"] == 1192
    assert (third["created"], third["updated"], third["missing"]) == (2, 4, 10)
    assert (third["repriced"], third["disabled"]) == (0, 1)
    assert (await _mapping(client, s, s.sku_ids[0]))["enabled"] is False
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{third['id']}/changes",
        headers=s.admin,
    )
    [change] = r.json()["items"]
    assert (change["mapping_id"], change["change"]) == (m, "disabled")
    assert "no longer listed" in change["note"]
    r = await client.get(
        f"/api/v1/suppliers/{s.supplier_id}/products",
        params={"present": "false", "limit": 50},
        headers=s.admin,
    )
    assert sorted(i["product_id"] for i in r.json()["items"]) == [f"P{i:05d}" for i in range(1, 11)]
    r = await client.get(f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs", headers=s.admin)
    runs = r.json()["items"]
    assert [x["id"] for x in runs] == [third["id"], same["id"], first["id"]]


async def test_progress_is_visible_while_the_sync_runs(
    client: httpx.AsyncClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = shop
    s.sim.products = _products(4000)
    monkeypatch.setattr(sync, "CHUNK", 100)
    run = await _start_sync(client, s)
    [job] = await _open_jobs(sync.SYNC_TASK)
    seen: list[tuple[str, int | None, int]] = []
    worker = asyncio.create_task(run_outbox_job(registry[sync.SYNC_TASK], job))
    url = f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}"
    while not worker.done():
        body = (await client.get(url, headers=s.operator)).json()
        seen.append((body["status"], body["total"], body["processed"]))
        await asyncio.sleep(0.005)
    assert await worker == "done"
    during = [p for st, total, p in seen if st == "running" and total == 4000 and 0 < p < 4000]
    assert during, seen[:20]
    assert during == sorted(during)


async def test_a_failed_or_empty_catalogue_changes_nothing(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    s = shop
    await _map(client, s, s.sku_ids[0], "P00001", "2.00")
    s.sim.products = []
    empty = await _run_sync(client, s)
    assert empty["status"] == "failed"
    assert "no products" in empty["error"]
    assert (await _mapping(client, s, s.sku_ids[0]))["enabled"] is True

    s.sim.mode = "http500"
    broken = await _run_sync(client, s)  # a new run may start: the last one is finished
    assert broken["status"] == "failed"
    assert "HTTP 500" in broken["error"]
    m = await _mapping(client, s, s.sku_ids[0])
    assert (m["enabled"], m["cost"]) == (True, "2.0000")


async def test_a_run_whose_job_gave_up_does_not_block_the_next(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    s = shop
    s.sim.products = _products(3)
    run = await _start_sync(client, s)
    [job] = await _open_jobs(sync.SYNC_TASK)
    async with db.unit_of_work() as session:  # the job failed after its last retry
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == job)
            .values(failed_at=datetime.now(UTC), last_error="RuntimeError: boom")
        )
    url = f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/{run['id']}"
    body = (await client.get(url, headers=s.operator)).json()
    assert (body["status"], body["error"]) == ("failed", "RuntimeError: boom")
    nxt = await _run_sync(client, s)
    assert (nxt["status"], nxt["created"]) == ("done", 3)


async def test_sync_routes_refuse_the_wrong_supplier_and_run(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    s = shop
    s.sim.products = _products(2)
    run = await _run_sync(client, s)
    for url in (
        "/api/v1/suppliers/999999/catalogue-syncs",
        f"/api/v1/suppliers/999999/catalogue-syncs/{run['id']}",
        f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs/999999",
        "/api/v1/suppliers/999999/products",
    ):
        r = await client.get(url, headers=s.admin)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/api/v1/suppliers/{s.supplier_id}/catalogue-syncs", headers=s.operator)
    assert r.status_code == 403  # 运营 sees, does not start


# ---- reconciliation ------------------------------------------------------------------------


def _period() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }


async def _run_recon(client: httpx.AsyncClient, u: Upstreams, **period: str) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/suppliers/{u.primary_id}/reconciliations",
        json=period or _period(),
        headers=u.admin,
    )
    assert r.status_code == 202, r.text
    report: dict[str, Any] = r.json()
    assert report["status"] == "running"
    for _ in range(100):  # page after page, as the worker takes them
        jobs = await _open_jobs(reconcile.RECON_TASK)
        if not jobs:
            break
        assert await run_outbox_job(registry[reconcile.RECON_TASK], jobs[0]) == "done"
        # at-least-once: the same page delivered again changes nothing
        again = await run_outbox_job(registry[reconcile.RECON_TASK], jobs[0])
        assert again.startswith("skipped")
    r = await client.get(
        f"/api/v1/suppliers/{u.primary_id}/reconciliations/{report['id']}", headers=u.admin
    )
    out: dict[str, Any] = r.json()
    return out


async def test_reconciliation_lists_what_the_supplier_says_otherwise(
    client: httpx.AsyncClient,
    session: AsyncSession,
    up: Upstreams,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconcile, "PAGE", 2)  # several pages, several jobs
    orders = [await _buy(client, session, up.sku_id) for _ in range(6)]
    for o in orders:
        assert await _deliver(session, o["id"]) == "done"
    rids = [_rid(o, up.primary_id) for o in orders]
    sim = up.primary
    # the supplier's truth differs from ours:
    sim.orders[rids[0]].status = "failed"  # we delivered, it failed
    del sim.orders[rids[1]]  # we delivered, it never heard of it
    async with db.unit_of_work() as s:
        # we failed (and refunded) it, the supplier delivered
        await s.execute(
            update(UpstreamOrder).where(UpstreamOrder.request_id == rids[2]).values(state="failed")
        )
        # the cost we recorded differs from what it charged
        await s.execute(
            update(UpstreamOrder).where(UpstreamOrder.request_id == rids[3]).values(cost="5.0000")
        )
        # outside the period: not asked about
        await s.execute(
            update(UpstreamOrder)
            .where(UpstreamOrder.request_id == rids[5])
            .values(created_at=datetime.now(UTC) - timedelta(days=2), state="failed")
        )
    queries_before = sim.calls["fulu.order.info.get"]

    report = await _run_recon(client, up)
    assert report["status"] == "done", report
    assert (report["total"], report["checked"], report["matched"], report["mismatched"]) == (
        5,
        5,
        1,
        4,
    )
    assert report["counts"] == {
        "ours_success_theirs_failed": 1,
        "ours_success_theirs_missing": 1,
        "ours_failed_theirs_success": 1,
        "state_differs": 0,
        "cost_differs": 1,
        "unanswered": 0,
    }
    assert report["amounts"]["ours_success_theirs_failed"] == "5.5000"
    assert report["amounts"]["ours_failed_theirs_success"] == "5.5000"
    assert report["amounts"]["cost_differs"] == "0.5000"
    assert report["cost_at_stake"] == "17.0000"
    assert report["theirs_listed"] is False
    assert "cannot list orders" in report["note"]
    assert sim.calls["fulu.order.info.get"] - queries_before == 5  # each asked once

    base = f"/api/v1/suppliers/{up.primary_id}/reconciliations/{report['id']}"
    r = await client.get(f"{base}/mismatches", headers=up.admin)
    by_order = {m["order_no"]: m for m in r.json()["items"]}
    assert set(by_order) == {o["order_no"] for o in orders[:4]}
    first = by_order[orders[0]["order_no"]]
    assert (first["kind"], first["our_state"], first["their_state"]) == (
        "ours_success_theirs_failed",
        "success",
        "failed",
    )
    assert by_order[orders[1]["order_no"]]["their_state"] == "missing"
    assert by_order[orders[2]["order_no"]]["kind"] == "ours_failed_theirs_success"
    cost = by_order[orders[3]["order_no"]]
    assert (cost["our_cost"], cost["their_cost"]) == ("5.0000", "5.5000")
    r = await client.get(f"{base}/mismatches", params={"kind": "cost_differs"}, headers=up.admin)
    assert [m["order_no"] for m in r.json()["items"]] == [orders[3]["order_no"]]

    # CSV for the accountants
    r = await client.get(f"{base}/export", headers=up.admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0].startswith("订单号")
    assert sorted(row[2] for row in rows[1:]) == [
        "cost_differs",
        "ours_failed_theirs_success",
        "ours_success_theirs_failed",
        "ours_success_theirs_missing",
    ]
    r = await client.get(f"/api/v1/suppliers/{up.primary_id}/reconciliations", headers=up.admin)
    assert [x["id"] for x in r.json()["items"]] == [report["id"]]

    # the page handler run again for a finished report changes nothing
    async with db.unit_of_work() as s:
        await reconcile.run_page(s, report["id"])
    assert (await client.get(base, headers=up.admin)).json() == report


async def test_reconciliation_says_when_the_supplier_does_not_answer(
    client: httpx.AsyncClient,
    session: AsyncSession,
    up: Upstreams,  # noqa: F811
) -> None:
    order = await _buy(client, session, up.sku_id)
    assert await _deliver(session, order["id"]) == "done"
    up.primary.mode = "http500"
    report = await _run_recon(client, up)
    assert (report["status"], report["checked"], report["mismatched"]) == ("done", 1, 1)
    assert report["counts"]["unanswered"] == 1
    r = await client.get(
        f"/api/v1/suppliers/{up.primary_id}/reconciliations/{report['id']}/mismatches",
        headers=up.admin,
    )
    [m] = r.json()["items"]
    assert (m["kind"], m["their_state"]) == ("unanswered", "error")
    assert "HTTP 500" in m["detail"]


async def test_reconciliation_start_is_checked(
    client: httpx.AsyncClient,
    up: Upstreams,  # noqa: F811
) -> None:
    url = f"/api/v1/suppliers/{up.primary_id}/reconciliations"
    now = datetime.now(UTC)
    for since, until in (
        (now, now - timedelta(hours=1)),
        (now - timedelta(days=40), now),
    ):
        r = await client.post(
            url, json={"since": since.isoformat(), "until": until.isoformat()}, headers=up.admin
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "bad_period"
    r = await client.post(
        url,
        json={"since": "0001-01-01T00:00:00+05:00", "until": "0001-01-02T00:00:00Z"},
        headers=up.admin,
    )
    assert (r.status_code, r.json()["code"]) == (422, "bad_period")
    r = await client.post(url, json={"since": "yesterday", "until": "today"}, headers=up.admin)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    r = await client.post(url, json=_period(), headers=up.admin)
    assert r.status_code == 202
    r = await client.post(url, json=_period(), headers=up.admin)
    assert (r.status_code, r.json()["code"]) == (409, "recon_running")
    r = await client.get(f"{url}/999999", headers=up.admin)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_recon_report")
    operator = await login(client, await make_user(roles=("operator",)))
    assert (await client.post(url, json=_period(), headers=operator)).status_code == 403
    assert (await client.get(url, headers=operator)).status_code == 200


async def test_cost_at_stake_is_a_decimal_sum() -> None:
    """The verdicts' arithmetic, without a supplier: what each kind puts at stake."""
    from kameng_api.suppliers.adapter import RechargeResult

    row = UpstreamOrder(state="success", cost=Decimal("5.0000"))
    assert reconcile.judge(row, RechargeResult("success", cost=Decimal("5.0000"))).kind is None
    v = reconcile.judge(row, RechargeResult("success", cost=Decimal("5.2500")))
    assert (v.kind, v.at_stake) == ("cost_differs", Decimal("0.2500"))
    assert reconcile.judge(row, None).kind == "ours_success_theirs_missing"
    assert reconcile.judge(row, "timeout").kind == "unanswered"
    row = UpstreamOrder(state="processing", cost=None)
    assert reconcile.judge(row, RechargeResult("processing")).kind is None
    assert reconcile.judge(row, RechargeResult("success")).kind == "state_differs"
    row = UpstreamOrder(state="failed", cost=None)
    assert reconcile.judge(row, None).kind is None
    assert reconcile.judge(row, RechargeResult("processing")).kind == "state_differs"
