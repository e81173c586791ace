"""Signed callbacks to resellers, against a real receiver on a local port.

Orders are real (bought through the orders API); the ``open_orders`` row the open API would
write is inserted here directly. Jobs are run exactly as the worker runs them
(``run_outbox_job``), except in the retry-schedule test, which runs a real ``kameng worker``.
The receiver's signature check is the ``standardwebhooks`` library's, with the reseller's
secret: what a reseller's own code would do.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kameng_api.audit.models import AuditLog
from kameng_api.core.actor import UserKind
from kameng_api.core.security import encrypt_field
from kameng_api.orders import service as orders
from kameng_api.orders.models import Order
from kameng_api.orders.service import NOTIFY_TASK
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.resellers import accounts, callbacks
from kameng_api.resellers.callback_models import ResellerCallback, ResellerCallbackAttempt
from kameng_api.resellers.models import OpenOrder, ResellerAccount, ResellerKey
from kameng_api.wallet import service as wallet
from tests.support.factories import Account, login, make_user
from tests.support.procs import (
    free_port,
    kameng_env,
    serve_app,
    settings_env,
    start_worker,
    stop,
    wait_for,
)
from tests.test_orders import _idem, _shop

SEND = callbacks.CALLBACK_TASK


@dataclass
class Receiver:
    """A reseller's callback endpoint: checks every request with the standardwebhooks
    library (given the reseller's secret), answers 500 to the first ``fail_first`` calls (or
    to all while ``fail_all``), 200 after."""

    secrets: dict[str, str] = field(default_factory=dict)  # path → whsec_
    fail_first: int = 0
    fail_all: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    acked: Counter[str] = field(default_factory=Counter)
    url: str = ""

    async def handle(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        headers = dict(request.headers)
        verified: Any = None
        secret = self.secrets.get(request.url.path)
        if secret:
            verified = Webhook(secret).verify(body, headers)  # raises when the signature is bad
        self.calls.append(
            {"headers": headers, "body": body, "json": verified, "at": time.monotonic()}
        )
        if self.fail_all or len(self.calls) <= self.fail_first:
            return PlainTextResponse("busy, try later " + "x" * 900, status_code=500)
        self.acked[headers["webhook-id"]] += 1
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> PlainTextResponse:
            return await self.handle(request)  # looked up per call: a test may replace it

        return Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])


@pytest.fixture
async def receiver(app_db: str) -> AsyncIterator[Receiver]:
    rx = Receiver()
    port = free_port()
    server, task = await serve_app(rx.app(), port)
    rx.url = f"http://127.0.0.1:{port}"
    try:
        with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_CALLBACK_RETRY_S="0.2,0.4"):
            yield rx
    finally:
        server.should_exit = True
        await task


@dataclass
class Bought:
    reseller: Account
    order: dict[str, Any]
    secret: str


async def _reseller(session: AsyncSession, rx: Receiver, path: str | None) -> tuple[Account, str]:
    """A reseller with money, an open-API key and (unless ``path`` is None) a callback URL."""
    acct = await make_user(kind=UserKind.reseller)
    await wallet.recharge(
        session, acct.user.id, Decimal("100"), payment_id=uuid.uuid4().int % 10**12
    )
    if path is not None:
        await accounts.set_callback_url(session, acct.user.id, rx.url + path)
    account = await accounts.ensure_account(session, acct.user.id)
    secret = accounts.webhook_secret(account)
    if path is not None:
        rx.secrets[path] = secret
    session.add(
        ResellerKey(
            user_id=acct.user.id,
            app_id="ak_" + uuid.uuid4().hex[:20],
            secret_enc=encrypt_field("sk_test", aad="test"),
            secret_hint="test",
        )
    )
    await session.commit()
    return acct, secret


async def _buy_open(
    client: httpx.AsyncClient,
    session: AsyncSession,
    rx: Receiver,
    *,
    path: str | None = "/cb",
    override: str | None = None,
    sku_id: int | None = None,
) -> Bought:
    """A real order (card keys by balance, delivered at once) placed by a reseller, with the
    ``open_orders`` row the open API writes."""
    if sku_id is None:
        _, sku_id, _ = await _shop(client, 3, price="12.50")
    acct, secret = await _reseller(session, rx, path)
    h = await login(client, acct)
    r = await client.post(
        "/api/v1/orders", json={"sku_id": sku_id, "quantity": 2}, headers={**h, **_idem()}
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "delivered"
    key_id = (
        await session.execute(select(ResellerKey.id).where(ResellerKey.user_id == acct.user.id))
    ).scalar_one()
    session.add(
        OpenOrder(
            order_id=order["id"],
            user_id=acct.user.id,
            out_trade_no="T" + uuid.uuid4().hex[:12],
            request_hash="0" * 64,
            key_id=key_id,
            callback_url=override,
        )
    )
    await session.commit()
    return Bought(acct, order, secret)


async def _open_jobs(session: AsyncSession, task: str) -> list[OutboxMessage]:
    q = (
        select(OutboxMessage)
        .where(
            OutboxMessage.task == task,
            OutboxMessage.done_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .order_by(OutboxMessage.id)
    )
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def _run(outbox_id: int, task: str = SEND) -> str:
    return await run_outbox_job(registry[task], outbox_id)


async def _notify_all(session: AsyncSession) -> None:
    for job in await _open_jobs(session, NOTIFY_TASK):
        assert await _run(job.id, NOTIFY_TASK) == "done"


async def _callbacks(session: AsyncSession, user_id: int) -> list[ResellerCallback]:
    q = select(ResellerCallback).where(ResellerCallback.user_id == user_id)
    q = q.order_by(ResellerCallback.id).execution_options(populate_existing=True)
    return list((await session.execute(q)).scalars())


async def _attempts(session: AsyncSession, callback_id: int) -> list[ResellerCallbackAttempt]:
    q = select(ResellerCallbackAttempt).where(ResellerCallbackAttempt.callback_id == callback_id)
    q = q.order_by(ResellerCallbackAttempt.id).execution_options(populate_existing=True)
    return list((await session.execute(q)).scalars())


async def _locked(session: AsyncSession, order_no: str) -> Order:
    q = select(Order).where(Order.order_no == order_no).with_for_update()
    return (await session.execute(q)).scalar_one()


async def _send_due(session: AsyncSession, rounds: int = 20) -> None:
    """Run the send jobs as they come due (the delayed retries included)."""
    for _ in range(rounds):
        jobs = await _open_jobs(session, SEND)
        if not jobs:
            return
        for job in jobs:
            wait = (job.available_at - job.created_at).total_seconds() if job.available_at else 0
            if wait > 0:
                await asyncio.sleep(wait)
            await _run(job.id)
    raise AssertionError("send jobs did not settle")


async def test_a_delivered_open_order_is_told_once_signed_per_standard_webhooks(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    b = await _buy_open(client, session, receiver)
    # the purchase (one SQL call) wrote the notice job; it finds the open-API order
    notices = await _open_jobs(session, NOTIFY_TASK)
    assert [j.payload for j in notices] == [{"order_ids": [b.order["id"]]}] or [
        j.payload for j in notices
    ] == [{"order_id": b.order["id"]}]
    # the notice job may run twice (at least once delivery), or another notice may come
    await run_outbox_job(registry[NOTIFY_TASK], notices[0].id)
    session.add(OutboxMessage(task=NOTIFY_TASK, payload={"order_id": b.order["id"]}))
    await session.commit()
    await _notify_all(session)

    [cb] = await _callbacks(session, b.reseller.user.id)
    assert (cb.event, cb.status, cb.order_no) == ("order.delivered", "pending", b.order["order_no"])
    wid = cb.webhook_id
    assert wid.startswith("msg_")
    [job] = await _open_jobs(session, SEND)

    # the send job seen three times at once, then once more: one POST
    results = await asyncio.gather(*(_run(job.id) for _ in range(3)))
    assert results.count("done") == 1
    assert await _run(job.id) == "skipped: already done or failed"
    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    # verified by the standardwebhooks library with the reseller's secret
    assert call["json"]["type"] == "order.delivered"
    data = call["json"]["data"]
    assert data["order_no"] == b.order["order_no"]
    assert data["status"] == "delivered"
    assert (data["quantity"], data["delivered_qty"], data["total"]) == (2, 2, "25.0000")
    assert data["delivered_at"].endswith("Z")
    assert call["headers"]["webhook-id"] == wid
    assert call["headers"]["content-type"] == "application/json"
    assert call["headers"]["user-agent"].startswith("kameng-callbacks/")
    # a wrong secret does not verify
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(call["body"], call["headers"])

    [cb] = await _callbacks(session, b.reseller.user.id)
    assert (cb.status, cb.attempts, cb.last_status_code) == ("delivered", 1, 200)
    assert cb.delivered_at is not None
    # no card secret rests in the callback, nor was one sent
    secrets = [k["secret"] for k in b.order["keys"]]
    assert secrets
    for s in secrets:
        assert s not in json.dumps(cb.payload)
        assert s.encode() not in call["body"]

    # the notice job again (a resend of the buyer's mail): no second callback, nothing sent
    session.add(OutboxMessage(task=NOTIFY_TASK, payload={"order_id": b.order["id"]}))
    await session.commit()
    await _notify_all(session)
    assert len(await _callbacks(session, b.reseller.user.id)) == 1
    assert await _open_jobs(session, SEND) == []
    assert len(receiver.calls) == 1


@pytest.mark.slow
async def test_a_failing_receiver_is_retried_on_schedule_by_a_real_worker(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.fail_first = 2
    b = await _buy_open(client, session, receiver)
    env = kameng_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_CALLBACK_RETRY_S="0.2,0.4")
    worker = start_worker(env, str(tmp_path / "worker.log"))
    try:

        async def delivered() -> ResellerCallback | None:
            cbs = await _callbacks(session, b.reseller.user.id)
            return cbs[0] if cbs and cbs[0].status == "delivered" else None

        cb = await wait_for(delivered, 60)
    finally:
        stop(worker)
    tries = await _attempts(session, cb.id)
    assert [t.status_code for t in tries] == [500, 500, 200]
    assert [t.attempt_no for t in tries] == [1, 2, 3]
    assert [t.error for t in tries] == ["HTTP 500", "HTTP 500", None]
    assert all(t.latency_ms >= 0 for t in tries)
    assert tries[0].response_excerpt is not None
    assert tries[0].response_excerpt.startswith("busy, try later")
    assert len(tries[0].response_excerpt) == 500
    assert tries[2].response_excerpt == "ok"
    # the schedule: 0.2 s after the first failure, 0.4 s after the second
    gaps = [(tries[i + 1].started_at - tries[i].started_at).total_seconds() for i in range(2)]
    assert gaps[0] >= 0.2
    assert gaps[1] >= 0.4
    # one webhook id throughout, acknowledged once
    assert {c["headers"]["webhook-id"] for c in receiver.calls} == {cb.webhook_id}
    assert receiver.acked == Counter({cb.webhook_id: 1})
    assert (cb.attempts, cb.last_status_code, cb.next_attempt_at) == (3, 200, None)


async def test_gives_up_after_the_schedule_then_a_resend_reopens_it(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    receiver.fail_all = True
    b = await _buy_open(client, session, receiver)
    await _notify_all(session)
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert await _run(cb.job_outbox_id or 0) == "done"
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert cb.status == "pending"
    assert cb.next_attempt_at is not None
    assert cb.last_attempt_at is not None
    assert cb.next_attempt_at - cb.last_attempt_at >= timedelta(seconds=0.2)
    [retry] = await _open_jobs(session, SEND)
    assert retry.available_at is not None
    await _send_due(session)
    [cb] = await _callbacks(session, b.reseller.user.id)
    # three attempts: the first and the two retries of the schedule, then given up
    assert (cb.status, cb.attempts, cb.next_attempt_at) == ("failed", 3, None)
    assert [t.status_code for t in await _attempts(session, cb.id)] == [500, 500, 500]
    assert len(receiver.calls) == 3

    # the reseller sees it failed and sends it again once their endpoint is fixed
    receiver.fail_all = False
    h = await login(client, b.reseller)
    r = await client.get(
        "/api/v1/account/reseller/callbacks", params={"status": "failed"}, headers=h
    )
    assert [c["id"] for c in r.json()["items"]] == [cb.id]
    r = await client.post(f"/api/v1/account/reseller/callbacks/{cb.id}/resend", headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    await _send_due(session)
    r = await client.get(f"/api/v1/account/reseller/callbacks/{cb.id}", headers=h)
    detail = r.json()
    assert detail["status"] == "delivered"
    assert [(a["status_code"], a["trigger"]) for a in detail["attempt_log"]] == [
        (500, "auto"),
        (500, "auto"),
        (500, "auto"),
        (200, "resend"),
    ]
    assert detail["payload"]["data"]["order_no"] == b.order["order_no"]
    assert receiver.acked == Counter({cb.webhook_id: 1})
    logged = (
        await session.execute(
            select(AuditLog.action).where(AuditLog.target_type == "reseller_callback")
        )
    ).scalars()
    assert list(logged) == ["resellers.callback_resend"]


async def test_a_resend_while_a_retry_waits_sends_once_now(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    b = await _buy_open(client, session, receiver)
    await _notify_all(session)
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert await _run(cb.job_outbox_id or 0) == "done"  # fails; a retry waits
    [waiting] = await _open_jobs(session, SEND)
    h = await login(client, b.reseller)
    r = await client.post(f"/api/v1/account/reseller/callbacks/{cb.id}/resend", headers=h)
    assert r.status_code == 202
    jobs = await _open_jobs(session, SEND)
    assert len(jobs) == 2
    for job in reversed(jobs):  # the resend first, then the old retry comes due
        await _run(job.id)
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert (cb.status, cb.attempts) == ("delivered", 2)
    assert len(receiver.calls) == 2
    assert waiting.id in {j.id for j in jobs}


async def test_a_private_address_is_refused_and_logged_not_sent(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    b = await _buy_open(client, session, receiver)
    # saved before a rule changed, or by hand: the guard checks again at every call
    await session.execute(
        update(ResellerAccount)
        .where(ResellerAccount.user_id == b.reseller.user.id)
        .values(callback_url="http://169.254.169.254/latest/meta-data/")
    )
    await session.commit()
    await _notify_all(session)
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert cb.url == "http://169.254.169.254/latest/meta-data/"
    assert await _run(cb.job_outbox_id or 0) == "done"
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert cb.status == "failed"  # retrying cannot help
    [t] = await _attempts(session, cb.id)
    assert t.status_code is None
    assert t.error is not None
    assert t.error.startswith("url_not_allowed")
    assert await _open_jobs(session, SEND) == []
    assert receiver.calls == []
    # a per-order override to a private network is refused the same way
    b2 = await _buy_open(client, session, receiver, override="http://10.1.2.3:8080/cb")
    await _notify_all(session)
    [cb2] = await _callbacks(session, b2.reseller.user.id)
    assert cb2.url == "http://10.1.2.3:8080/cb"
    await _run(cb2.job_outbox_id or 0)
    [cb2] = await _callbacks(session, b2.reseller.user.id)
    assert cb2.status == "failed"
    assert (cb2.last_error or "").startswith("url_not_allowed")
    assert receiver.calls == []


async def test_no_url_is_recorded_as_skipped_and_the_override_wins(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    b = await _buy_open(client, session, receiver, path=None)
    await _notify_all(session)
    [cb] = await _callbacks(session, b.reseller.user.id)
    assert (cb.status, cb.url, cb.job_outbox_id) == ("skipped", None, None)
    assert cb.last_error == "no callback URL set"
    assert await _open_jobs(session, SEND) == []
    h = await login(client, b.reseller)
    r = await client.post(f"/api/v1/account/reseller/callbacks/{cb.id}/resend", headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "callback_url_missing"

    b2 = await _buy_open(client, session, receiver, override=receiver.url + "/override")
    receiver.secrets["/override"] = b2.secret
    await _notify_all(session)
    await _send_due(session)
    [cb2] = await _callbacks(session, b2.reseller.user.id)
    assert (cb2.status, cb2.url) == ("delivered", receiver.url + "/override")
    assert [c["json"]["type"] for c in receiver.calls] == ["order.delivered"]


async def test_a_refund_is_told_in_the_transaction_that_refunds(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    b = await _buy_open(client, session, receiver)
    await _notify_all(session)
    order = await _locked(session, b.order["order_no"])
    await orders.refund(session, None, order, None, "客户要求")
    await session.commit()
    events = [c.event for c in await _callbacks(session, b.reseller.user.id)]
    assert events == ["order.delivered", "order.refunded"]
    await _send_due(session)
    got = {c["json"]["type"]: c["json"]["data"] for c in receiver.calls}
    assert got["order.refunded"]["status"] == "refunded"
    assert got["order.refunded"]["refunded_total"] == "25.0000"
    # an ordinary shop order (no open_orders row) is refunded without any callback
    _, sku_id, _ = await _shop(client, 1, price="3.00")
    buyer = await make_user(kind=UserKind.customer)
    await wallet.recharge(
        session, buyer.user.id, Decimal("10"), payment_id=uuid.uuid4().int % 10**12
    )
    await session.commit()
    hb = await login(client, buyer)
    r = await client.post("/api/v1/orders", json={"sku_id": sku_id}, headers={**hb, **_idem()})
    plain = await _locked(session, r.json()["order_no"])
    await orders.refund(session, None, plain, None, "test")
    await session.commit()
    total = (await session.execute(select(func.count()).select_from(ResellerCallback))).scalar_one()
    assert total == 2


async def test_order_event_is_once_per_order_and_event(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    """The entry point the open API's cancel calls."""
    b = await _buy_open(client, session, receiver)
    first = await callbacks.order_event(session, b.order["id"], "order.cancelled")
    again = await callbacks.order_event(session, b.order["id"], "order.cancelled")
    await session.commit()
    assert first is not None
    assert first.event == "order.cancelled"
    assert again is None
    o = (await session.execute(select(Order).where(Order.id == b.order["id"]))).scalar_one()
    assert await callbacks.order_event(session, o.id, "order.failed") is not None
    with pytest.raises(ValueError, match="unknown callback event"):
        await callbacks.order_event(session, o.id, "order.exploded")


async def test_resellers_see_only_their_own_and_staff_see_all(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    _, sku_id, _ = await _shop(client, 6, price="1.00")
    a = await _buy_open(client, session, receiver, sku_id=sku_id, path="/a")
    b = await _buy_open(client, session, receiver, sku_id=sku_id, path="/b")
    await _notify_all(session)
    [cb_a] = await _callbacks(session, a.reseller.user.id)
    [cb_b] = await _callbacks(session, b.reseller.user.id)
    ha, hb = await login(client, a.reseller), await login(client, b.reseller)
    base = "/api/v1/account/reseller/callbacks"

    r = await client.get(base, headers=hb)
    assert [c["id"] for c in r.json()["items"]] == [cb_b.id]
    for method, path in (("GET", f"{base}/{cb_a.id}"), ("POST", f"{base}/{cb_a.id}/resend")):
        r = await client.request(method, path, headers=hb)
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "callback_not_found"
    r = await client.get(base, params={"order_no": a.order["order_no"]}, headers=hb)
    assert r.json()["items"] == []
    r = await client.get(base, params={"order_no": a.order["order_no"]}, headers=ha)
    assert [c["id"] for c in r.json()["items"]] == [cb_a.id]
    r = await client.get(base, params={"event": "ping"}, headers=ha)
    assert r.json()["items"] == []

    # a customer has no callback log; staff without the permission are refused
    customer = await login(client, await make_user(kind=UserKind.customer))
    assert (await client.get(base, headers=customer)).status_code == 403
    finance = await login(client, await make_user(roles=("finance",)))
    r = await client.get("/api/v1/admin/resellers/callbacks", headers=finance)
    assert r.status_code == 403

    op = await login(client, await make_user(roles=("operator",)))
    r = await client.get("/api/v1/admin/resellers/callbacks", headers=op)
    assert {c["id"] for c in r.json()["items"]} >= {cb_a.id, cb_b.id}
    r = await client.get(
        "/api/v1/admin/resellers/callbacks", params={"user_id": a.reseller.user.id}, headers=op
    )
    assert [(c["id"], c["user_id"]) for c in r.json()["items"]] == [(cb_a.id, a.reseller.user.id)]
    r = await client.get(f"/api/v1/admin/resellers/callbacks/{cb_b.id}", headers=op)
    assert r.json()["payload"]["data"]["order_no"] == b.order["order_no"]
    r = await client.post(f"/api/v1/admin/resellers/callbacks/{cb_b.id}/resend", headers=op)
    assert r.status_code == 202
    r = await client.get("/api/v1/admin/resellers/callbacks/999999", headers=op)
    assert r.status_code == 404


async def test_a_test_ping_is_sent_once_and_shown_in_the_log(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver
) -> None:
    acct, _ = await _reseller(session, receiver, "/ping")
    h = await login(client, acct)
    r = await client.post("/api/v1/account/reseller/callbacks/ping", headers=h)
    assert r.status_code == 202, r.text
    ping = r.json()
    assert (ping["event"], ping["status"]) == ("ping", "pending")
    await _send_due(session)
    [call] = receiver.calls
    assert call["json"]["type"] == "ping"
    r = await client.get(f"/api/v1/account/reseller/callbacks/{ping['id']}", headers=h)
    assert r.json()["status"] == "delivered"
    # a ping that fails is not retried
    receiver.fail_all = True
    r = await client.post("/api/v1/account/reseller/callbacks/ping", headers=h)
    await _send_due(session)
    r = await client.get(f"/api/v1/account/reseller/callbacks/{r.json()['id']}", headers=h)
    assert (r.json()["status"], r.json()["attempts"]) == ("failed", 1)
    # without a URL: nothing to ping
    bare, _ = await _reseller(session, receiver, None)
    r = await client.post(
        "/api/v1/account/reseller/callbacks/ping", headers=await login(client, bare)
    )
    assert r.status_code == 409
    assert r.json()["code"] == "callback_url_missing"


@pytest.mark.slow
async def test_a_worker_killed_mid_call_leaves_one_callback_delivered(
    client: httpx.AsyncClient, session: AsyncSession, receiver: Receiver, tmp_path: Path
) -> None:
    """SIGKILL the worker while the receiver holds the first call: the attempt rolls back,
    arq runs the job again in a new worker, and the callback is delivered — one row, one
    webhook id (a receiver may see it twice: Standard Webhooks de-duplicates by it)."""
    hold = asyncio.Event()
    inner = receiver.handle

    async def slow_first(request: Request) -> PlainTextResponse:
        if not receiver.calls:
            hold.set()
            await asyncio.sleep(4)
        return await inner(request)

    receiver.handle = slow_first  # type: ignore[method-assign]
    b = await _buy_open(client, session, receiver)
    env = kameng_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_CALLBACK_RETRY_S="0.2,0.4")
    log = str(tmp_path / "worker.log")
    first = start_worker(env, log)
    second = None
    try:
        await asyncio.wait_for(hold.wait(), 60)
        stop(first, signal.SIGKILL)
        second = start_worker(env, log)

        async def delivered() -> ResellerCallback | None:
            cbs = await _callbacks(session, b.reseller.user.id)
            return cbs[0] if cbs and cbs[0].status == "delivered" else None

        cb = await wait_for(delivered, 90)
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            stop(second)
    wid, cb_id = cb.webhook_id, cb.id
    assert len(await _callbacks(session, b.reseller.user.id)) == 1
    tries = await _attempts(session, cb_id)
    assert [t.status_code for t in tries][-1] == 200
    assert {c["headers"]["webhook-id"] for c in receiver.calls} == {wid}
    # the delivered callback is not sent again by anything still queued
    await asyncio.sleep(1.5)
    assert len(await _attempts(session, cb_id)) == len(tries)
