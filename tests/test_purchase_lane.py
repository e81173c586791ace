"""The purchase lane (orders/lane.py): a balance purchase of card keys answered in front of
routing with one database statement. It must write exactly what the route writes, never use
a stale price or a dead session, and hand everything it is unsure of to the route."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit.models import AuditLog
from kameng_api.catalog import service as catalog
from kameng_api.core.clock import clock
from kameng_api.core.metrics import PURCHASE_BATCH, PURCHASE_LANE
from kameng_api.inventory import service as inventory
from kameng_api.orders import placing
from kameng_api.orders.models import IdempotencyKey, Order, OrderEvent, OrderKey
from kameng_api.wallet import service as wallet
from kameng_api.wallet.models import Entry, Line
from tests.support.factories import login, make_user
from tests.test_accounts_mail import Inbox, inbox  # noqa: F401  (the local SMTP server)
from tests.test_orders import API, _buyer, _idem, _shop


def _lane(outcome: str) -> float:
    return float(PURCHASE_LANE.labels(outcome)._value.get())


def _batches() -> tuple[float, float]:
    """Group commits so far, and the purchases they held."""
    samples = {s.name: s.value for m in PURCHASE_BATCH.collect() for s in m.samples}
    return samples["kameng_purchase_batch_size_count"], samples["kameng_purchase_batch_size_sum"]


async def _rows(session: AsyncSession, order_no: str) -> dict[str, Any]:
    """What a purchase left in the database, without ids and times."""
    order = (await session.execute(select(Order).where(Order.order_no == order_no))).scalar_one()
    events = (
        await session.execute(
            select(
                OrderEvent.from_status, OrderEvent.to_status, OrderEvent.actor_id, OrderEvent.reason
            )
            .where(OrderEvent.order_id == order.id)
            .order_by(OrderEvent.id)
        )
    ).all()
    entry = (
        await session.execute(select(Entry).where(Entry.dedupe == f"purchase:order:{order.id}"))
    ).scalar_one()
    lines = (
        await session.execute(
            select(Line.amount, Line.balance_after.is_(None))
            .where(Line.entry_id == entry.id)
            .order_by(Line.account_id)
        )
    ).all()
    audit = (
        await session.execute(
            select(AuditLog.action, AuditLog.actor_id, AuditLog.after, AuditLog.result).where(
                AuditLog.target_type == "order", AuditLog.target_id == order_no
            )
        )
    ).all()
    keys = (
        (await session.execute(select(OrderKey.seq).where(OrderKey.order_id == order.id)))
        .scalars()
        .all()
    )
    notices = (
        (
            await session.execute(
                text(
                    "SELECT task FROM outbox_messages WHERE payload = jsonb_build_object("
                    "'order_id', CAST(:id AS bigint)) OR payload->'order_ids' @> to_jsonb("
                    "ARRAY[CAST(:id AS bigint)])"
                ),
                {"id": order.id},
            )
        )
        .scalars()
        .all()
    )
    stored = (
        await session.execute(
            select(IdempotencyKey.status_code, IdempotencyKey.body).where(
                IdempotencyKey.owner_id == order.buyer_id
            )
        )
    ).all()
    return {
        "order": (
            order.status,
            order.pay_method,
            order.quantity,
            order.delivered_qty,
            order.total,
            order.unit_price,
            order.price_rule,
            order.buyer_input,
            order.delivery_type,
            order.paid_at is not None,
            order.delivered_at is not None,
            order.expires_at is not None,
        ),
        "events": [tuple(e) for e in events],
        "entry": (entry.kind, entry.memo, entry.ref_type, entry.ref_id == order_no),
        "lines": [tuple(line) for line in lines],
        "audit": [tuple(a) for a in audit],
        "keys": sorted(keys),
        "notices": list(notices),
        "stored": [(s, b.get("order_no") == order_no) for s, b in stored],
    }


async def test_the_lane_writes_what_the_route_writes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, secrets = await _shop(client, 4, price="12.50")
    by_lane, by_route = await _buyer(session), await _buyer(session)
    bought = _lane("bought")
    h = await login(client, by_lane)
    r = await client.post(API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **_idem()})
    assert r.status_code == 201, r.text
    assert _lane("bought") == bought + 1  # the lane answered
    lane_order = r.json()
    # a field the lane does not know sends the same purchase through the route
    h2 = await login(client, by_route)
    r = await client.post(
        API, json={"sku_id": sku_id, "quantity": 2, "note": "x"}, headers={**h2, **_idem()}
    )
    assert r.status_code == 201, r.text
    assert _lane("bought") == bought + 1
    route_order = r.json()

    # the same answer …
    assert set(lane_order) == set(route_order)
    for field in (
        "status",
        "total",
        "unit_price",
        "price_rule",
        "quantity",
        "delivered_qty",
        "pay_method",
        "product_name",
        "sku_name",
        "delivery_type",
        "buyer_input",
    ):
        assert lane_order[field] == route_order[field], field
    got = {k["secret"] for k in lane_order["keys"]} | {k["secret"] for k in route_order["keys"]}
    assert got == set(secrets)  # four keys, each in one order
    # … and the same rows: order, timeline, ledger, operation log, keys, notice, stored answer
    lane_rows = await _rows(session, lane_order["order_no"])
    route_rows = await _rows(session, route_order["order_no"])
    for rows, account in ((lane_rows, by_lane), (route_rows, by_route)):
        rows["events"] = [(f, t, a == account.user.id, why) for f, t, a, why in rows["events"]]
        rows["audit"] = [
            (act, a == account.user.id, after, res) for act, a, after, res in rows["audit"]
        ]
    assert lane_rows == route_rows
    assert lane_rows["order"][0] == "delivered"
    # the buyer's wallet −25 (its balance kept on the line), revenue +25
    assert sorted(lane_rows["lines"]) == [(Decimal("-25.0000"), False), (Decimal("25.0000"), True)]
    assert await wallet.balance(session, by_lane.user.id) == Decimal("75.0000")
    assert await wallet.balance(session, by_route.user.id) == Decimal("75.0000")
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (0, 4)
    assert (await wallet.trial_balance(session)).total == 0


async def test_a_retry_gets_the_lanes_answer_with_its_keys(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 2)
    h = await login(client, await _buyer(session))
    key = _idem()
    first = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert first.status_code == 201
    again = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    # the lane's answer is the order as stored: the retry reads it back, field for field
    assert again.json() == first.json()
    assert len(first.json()["keys"]) == 1
    other = await client.post(API, json={"sku_id": sku_id, "quantity": 2}, headers={**h, **key})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    count = (
        await session.execute(text("SELECT count(*) FROM orders WHERE sku_id = :s"), {"s": sku_id})
    ).scalar()
    assert count == 1


async def test_sold_out_told_by_the_database_is_stored_and_replayed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 1)
    h = await login(client, await _buyer(session))
    assert (
        await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    ).status_code == 201
    sold_out = _lane("sold_out")
    key = _idem()
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert (r.status_code, r.json()["code"]) == (409, "sold_out")
    assert _lane("sold_out") == sold_out + 1  # the lane, not the route, answered
    # stock comes back, but this key keeps its answer (a retry hears it again)
    admin = await login(client, await make_user(roles=("operator",)))
    r = await client.post(
        "/api/v1/inventory/imports",
        data={"sku_id": str(sku_id), "text": "BACK-0001", "format": "secret"},
        headers=admin,
    )
    await client.post(f"/api/v1/inventory/imports/{r.json()['id']}/confirm", headers=admin)
    again = await client.post(API, json={"sku_id": sku_id}, headers={**h, **key})
    assert (again.status_code, again.json()["code"]) == (409, "sold_out")
    assert again.headers["idempotent-replayed"] == "true"
    fresh = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert fresh.status_code == 201
    assert fresh.json()["keys"][0]["secret"] == "BACK-0001"


async def test_a_price_change_or_a_new_level_is_never_missed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id, sku_id, _ = await _shop(client, 5, price="10.00")
    account = await _buyer(session)
    h = await login(client, account)
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.json()["total"] == "10.0000"  # the lane keeps this product and buyer now

    admin = await login(client, await make_user(roles=("operator",)))
    product = (await client.get(f"/api/v1/catalog/products/{product_id}", headers=admin)).json()
    body = {
        k: product[k]
        for k in ("category_id", "name", "status", "delivery_type", "min_qty", "max_qty")
    }
    body["skus"] = [
        {
            "id": sku_id,
            "name": "10元",
            "base_price": "9.00",
            "cost_price": "1.00",
            "member_prices": {"1": "7.00"},
        }
    ]
    r = await client.put(f"/api/v1/catalog/products/{product_id}", json=body, headers=admin)
    assert r.status_code == 200, r.text
    handed = _lane("handed_over")
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.json()["total"] == "9.0000"  # the new price, not the kept one
    assert _lane("handed_over") == handed + 1  # stale: the route priced it
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.json()["total"] == "9.0000"
    assert _lane("handed_over") == handed + 1  # the lane again, with the new snapshot

    await session.execute(
        text("UPDATE users SET member_level = 1 WHERE id = :u"), {"u": account.user.id}
    )
    await session.commit()
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert (r.json()["total"], r.json()["price_rule"]) == ("7.0000", "member:1")


async def test_the_schedule_job_changing_nothing_keeps_the_lane_s_snapshot(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The schedule job runs every 15 s; a run that lists or unlists nothing must not make
    every kept catalogue stale (each purchase in flight would go the long way at once)."""
    _, sku_id, _ = await _shop(client, 5)
    h = await login(client, await _buyer(session))
    assert (await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})).is_success
    version = (await session.execute(text("SELECT version FROM catalog_version"))).scalar_one()
    assert await catalog.apply_schedules(session, clock.now()) == ([], [])
    await session.commit()
    assert (
        await session.execute(text("SELECT version FROM catalog_version"))
    ).scalar_one() == version
    handed, bought = _lane("handed_over"), _lane("bought")
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert r.status_code == 201
    assert (_lane("handed_over"), _lane("bought")) == (handed, bought + 1)


def _errors_in_german(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's errors as a server with ``lc_messages = 'de_DE'`` words them (the
    embedded PostgreSQL has no other language to switch to): the SQLSTATE and the index's
    name stay, the message and the detail are German."""
    real = asyncpg.connection.Connection.fetchval

    async def fetchval(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        try:
            return await real(self, query, *args, **kw)
        except asyncpg.UniqueViolationError as exc:
            found = re.search(r"=\((.*)\)", exc.detail or "")
            no = found.group(1) if found else ""
            fields = {
                "C": exc.sqlstate,
                "M": f"doppelter Schlüsselwert verletzt Unique-Constraint »{exc.constraint_name}«",
                "D": f"Schlüssel »(order_no)=({no})« existiert bereits.",
                "n": exc.constraint_name or "",
                "s": exc.schema_name or "",
                "t": exc.table_name or "",
            }
            raise asyncpg.UniqueViolationError.new(fields) from None

    monkeypatch.setattr(asyncpg.connection.Connection, "fetchval", fetchval)


@pytest.mark.parametrize("language", ["en", "de"])
async def test_an_order_number_already_taken_goes_to_the_route_not_the_whole_batch(
    client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
) -> None:
    if language == "de":
        _errors_in_german(monkeypatch)
    _, sku_id, _ = await _shop(client, 10)
    heads = [await login(client, await _buyer(session)) for _ in range(6)]
    first = await client.post(API, json={"sku_id": sku_id}, headers={**heads[0], **_idem()})
    taken = first.json()["order_no"]
    real, drawn = placing.new_order_no, []

    def draw(now: datetime) -> str:  # the lane's sixth number is one already taken
        drawn.append(now)
        return taken if len(drawn) == 6 else real(now)

    monkeypatch.setattr(placing, "new_order_no", draw)  # its home: card_key_request reads it there
    handed, bought, (batches, _) = _lane("handed_over"), _lane("bought"), _batches()
    answers = await asyncio.gather(
        *(client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()}) for h in heads)
    )
    assert [r.status_code for r in answers] == [201] * 6
    assert len({r.json()["order_no"] for r in answers} | {taken}) == 7
    assert _batches()[0] - batches < 6  # some went together
    # only the purchase with the taken number went the long way, not its batch
    assert (_lane("handed_over"), _lane("bought")) == (handed + 1, bought + 5)
    assert len(drawn) == 7  # the route drew a new number


async def test_a_signed_out_session_cannot_buy_through_the_lane(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, sku_id, _ = await _shop(client, 2)
    account = await _buyer(session)
    h = await login(client, account)
    assert (
        await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    ).status_code == 201
    assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204
    r = await client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()})
    assert (r.status_code, r.json()["code"]) == (401, "session_ended")
    assert await wallet.balance(session, account.user.id) == Decimal("90.0000")
    count = (
        await session.execute(text("SELECT count(*) FROM orders WHERE sku_id = :s"), {"s": sku_id})
    ).scalar()
    assert count == 1


async def test_one_buyer_racing_themselves_is_charged_only_what_they_have(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Twenty purchases at once by one buyer with money for eight: the batches hold the same
    wallet several times; each purchase the balance cannot cover is rolled back alone."""

    _, sku_id, secrets = await _shop(client, 20, price="5.00")
    account = await _buyer(session, money="40")
    h = await login(client, account)
    bought = _lane("bought")
    answers = await asyncio.gather(
        *(client.post(API, json={"sku_id": sku_id}, headers={**h, **_idem()}) for _ in range(20))
    )
    codes = sorted(
        str(r.status_code) if r.status_code == 201 else r.json()["code"] for r in answers
    )
    assert codes == ["201"] * 8 + ["insufficient_balance"] * 12
    assert _lane("bought") == bought + 8  # the lane sold; the refusals went to the route
    got = [k["secret"] for r in answers if r.status_code == 201 for k in r.json()["keys"]]
    assert len(set(got)) == 8
    assert set(got) <= set(secrets)
    assert await wallet.balance(session, account.user.id) == Decimal("0.0000")
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (12, 8)
    assert (await wallet.trial_balance(session)).total == 0


async def test_a_crowded_batch_sells_each_key_once_and_charges_each_buyer_right(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Purchases arriving together go to the database as one batch, done set-wise: several
    buyers and quantities, a buyer twice, a buyer who cannot pay, more keys asked for than
    there are. Whatever order the batch takes them in, a key is sold once, every order
    has all its keys, and every wallet is charged exactly its orders."""
    import asyncio

    _, sku_id, secrets = await _shop(client, 10, price="5.00")
    rich = [await _buyer(session, money="100") for _ in range(4)]
    poor = await _buyer(session, money="4")
    big = await _buyer(session, money="100")
    heads = {a.user.id: await login(client, a) for a in [*rich, poor, big]}
    wants = [(a, 2) for a in rich] + [(rich[0], 1), (poor, 1), (big, 3)]  # 12 keys asked for
    bought, (batches, in_batches) = _lane("bought"), _batches()
    answers = await asyncio.gather(
        *(
            client.post(
                API, json={"sku_id": sku_id, "quantity": q}, headers={**heads[a.user.id], **_idem()}
            )
            for a, q in wants
        )
    )
    got: list[str] = []
    spent: dict[int, Decimal] = {}
    for (account, qty), r in zip(wants, answers, strict=True):
        if r.status_code == 201:
            order = r.json()
            assert len(order["keys"]) == qty == order["delivered_qty"]
            got += [k["secret"] for k in order["keys"]]
            spent[account.user.id] = spent.get(account.user.id, Decimal(0)) + Decimal(
                order["total"]
            )
        else:
            expected = "insufficient_balance" if account is poor else "sold_out"
            assert r.json()["code"] == expected, r.text
    assert len(got) == len(set(got))
    assert set(got) <= set(secrets)
    assert len(got) >= 9  # 12 asked of 10: at most one key can be left when a 2 or 3 misses
    assert _lane("bought") > bought  # the lane sold (the batch's set-wise part)
    after, in_after = _batches()
    assert in_after - in_batches == len(wants)
    assert after - batches < len(wants)  # they went to the database together
    assert poor.user.id not in spent
    for account in [*rich, poor, big]:
        assert await wallet.balance(session, account.user.id) == Decimal(
            "4" if account is poor else "100"
        ) - spent.get(account.user.id, Decimal(0))
    stock = (await inventory.stock_for_skus(session, [sku_id]))[sku_id]
    assert (stock.available, stock.sold) == (10 - len(got), len(got))
    sold = (
        await session.execute(
            text(
                "SELECT count(*) FROM inventory_keys k JOIN order_keys ok ON ok.key_id = k.id"
                " JOIN orders o ON o.id = ok.order_id AND o.id = k.order_id"
                " WHERE k.sku_id = :s AND k.state = 'sold'"
            ),
            {"s": sku_id},
        )
    ).scalar()
    assert sold == len(got)
    assert (await wallet.trial_balance(session)).total == 0


async def test_a_hot_sale_s_mails_wait_until_it_cools_and_then_go(
    client: httpx.AsyncClient,
    session: AsyncSession,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    """At ``notice_hold_rate`` purchases a second the lane leaves each batch's notice job for
    the sweeper and raises the hold: no job reaches the queue while the sale is hot, so the
    worker leaves the cores to it. Once the sale cools the sweeper pushes the held batches'
    notices as one job, and every buyer is told once, as ever."""
    import asyncio

    from kameng_api.core import redis as core_redis
    from kameng_api.core.metrics import OUTBOX_HELD
    from kameng_api.orders.service import NOTIFY_TASK
    from kameng_api.outbox import service as outbox
    from kameng_api.outbox.jobs import registry, run_outbox_job
    from kameng_api.outbox.models import OutboxMessage
    from tests.support.procs import settings_env, wait_for

    box, port = inbox
    _, sku_id, secrets = await _shop(client, 3, price="1.00")
    buyers = [await _buyer(session) for _ in range(3)]
    queue = core_redis.get_queue()

    async def buy(account: Any) -> tuple[int, int]:
        """The purchase's order id and its notice job (outbox id)."""
        r = await client.post(
            API, json={"sku_id": sku_id}, headers={**await login(client, account), **_idem()}
        )
        assert r.status_code == 201, r.text
        order_id = (
            await session.execute(select(Order.id).where(Order.order_no == r.json()["order_no"]))
        ).scalar_one()
        job = (
            await session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.task == NOTIFY_TASK,
                    OutboxMessage.payload["order_ids"].contains([order_id]),
                )
            )
        ).scalar_one()
        return order_id, int(job)

    async def queued(outbox_id: int) -> bool:
        return bool(await queue.exists(f"arq:job:{outbox.job_id(outbox_id)}"))

    # a quiet shop: the job goes to the queue at once
    _, quiet = await buy(buyers[0])
    await wait_for(lambda: queued(quiet), 5, interval_s=0.05)
    assert not await outbox.holding()
    with settings_env(KAMENG_SMTP_HOST="127.0.0.1", KAMENG_SMTP_PORT=str(port)):
        assert await run_outbox_job(registry[NOTIFY_TASK], quiet) == "done"  # as a worker would

    held = OUTBOX_HELD._value.get()
    with settings_env(KAMENG_NOTICE_HOLD_RATE="1"):  # one purchase a second is hot here
        (order_1, hot_1), (order_2, hot_2) = [await buy(b) for b in buyers[1:]]
        assert hot_1 != hot_2  # one after the other: two batches, two notice jobs
        await wait_for(outbox.holding, 5, interval_s=0.05)
        assert OUTBOX_HELD._value.get() == held + 2
        await asyncio.sleep(0.3)
        assert not await queued(hot_1)
        assert not await queued(hot_2)
        # the sweeper leaves them while the sale is hot, past the relay's grace period too
        await session.execute(
            text(
                "UPDATE outbox_messages SET created_at = now() - interval '10 s'"
                " WHERE id IN (:a, :b)"
            ),
            {"a": hot_1, "b": hot_2},
        )
        await session.commit()
        await outbox.sweep()
        assert not await queued(hot_1)
        assert not await queued(hot_2)
        # the sale cools: the hold lapses and the sweeper pushes both batches as one job
        await wait_for(lambda: _not(outbox.holding()), outbox.HOLD_TTL_S + 2, interval_s=0.1)
        await outbox.sweep()
    assert not await queued(hot_1)
    assert not await queued(hot_2)
    merged = (
        await session.execute(
            select(OutboxMessage).where(OutboxMessage.task == NOTIFY_TASK, OutboxMessage.id > hot_2)
        )
    ).scalar_one()
    assert merged.payload == {"order_ids": [order_1, order_2]}
    assert await queued(merged.id)
    with settings_env(KAMENG_SMTP_HOST="127.0.0.1", KAMENG_SMTP_PORT=str(port)):
        assert await run_outbox_job(registry[NOTIFY_TASK], merged.id) == "done"
        # the rows it replaced are done: a job pushed for one of them does nothing
        assert await run_outbox_job(registry[NOTIFY_TASK], hot_1) == (
            "skipped: already done or failed"
        )
    for account, order_id in ((buyers[1], order_1), (buyers[2], order_2)):
        [mail] = box.for_(account.user.email)
        assert mail["Message-ID"] == f"<outbox-{merged.id}-{order_id}@kameng>"
        assert sum(s in box.text(mail) for s in secrets) == 1  # the buyer's own key
        told = (
            await session.execute(
                text("SELECT notified_at IS NOT NULL FROM orders WHERE id = :o"), {"o": order_id}
            )
        ).scalar_one()
        assert told


async def _not(probe: Any) -> bool:
    return not await probe
