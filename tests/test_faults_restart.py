"""A PostgreSQL restart and a Redis kill under `kameng run`, with real processes.

One `kameng run` on embedded services of its own (under ``tmp_path``), a shop's mixed work
running against it — balance purchases of direct recharges (retried under their
Idempotency-Key, as a reseller would), EPay purchases and wallet recharges paid at the
simulated gateway, reads — while PostgreSQL is stopped with the real ``pg_ctl stop -m fast``
and kept down for ~5 s (the supervisor is paused meanwhile, as an operator's restart would
be), then brought back by ``kameng run``'s supervisor. Then the embedded Redis is SIGKILLed,
and Ctrl-C ends it all. What a user would notice is asserted:

- no answer is a 500 and none is lost; while the database is away the answer is 503
  ``service_unavailable`` with ``Retry-After`` and ``X-Request-ID``;
- every paid order is delivered, every payment the gateway took is credited (its notices were
  refused while the database was away: the poll finds them), no outbox row stays open, and
  the ledger balances;
- ``/readyz`` is 200 again after the Redis kill without anyone's help;
- Ctrl-C after the restart leaves no process behind (the new postmaster included).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.procs import free_port

pytestmark = pytest.mark.slow

PASSWORD = "Kameng-Demo-2026!"
CUSTOMER = "customer@demo.kameng.example"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in found:
                    found.add(k)
                    todo.append(k)
    return found


def _pg_ctl(data_dir: Path, *args: str) -> None:
    """The real ``pg_ctl``, as the system user pgserver runs PostgreSQL as (root cannot)."""
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(list(args), pgdata=data_dir, user=user, timeout=30)


@dataclass
class Answer:
    at: float
    what: str
    status: int  # 0: no answer (the connection failed)
    request_id: str | None = None
    retry_after: str | None = None
    code: str | None = None
    error: str | None = None


@dataclass
class Workload:
    base: str
    token: str
    answers: list[Answer] = field(default_factory=list)
    paid_at_gateway: list[str] = field(default_factory=list)  # out_trade_no
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self,
        http: httpx.AsyncClient,
        what: str,
        method: str,
        url: str,
        *,
        json: object = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        sent = {"authorization": f"Bearer {self.token}", **(headers or {})}
        try:
            r = await http.request(method, url, headers=sent, json=json)
        except httpx.HTTPError as exc:
            self.answers.append(Answer(time.monotonic(), what, 0, error=repr(exc)))
            return None
        code = None
        if r.headers.get("content-type", "").startswith("application/problem+json"):
            code = r.json().get("code")
        self.answers.append(
            Answer(
                time.monotonic(),
                what,
                r.status_code,
                r.headers.get("x-request-id"),
                r.headers.get("retry-after"),
                code,
            )
        )
        return r

    async def buy_with_balance(self, http: httpx.AsyncClient, sku_id: int) -> None:
        """Direct recharges paid from the wallet; a refused attempt is retried under the same
        key until it is answered (at most 60 tries)."""
        for n in range(25):
            if self.stop.is_set():
                return
            key = {"idempotency-key": uuid.uuid4().hex}
            body = {"sku_id": sku_id, "buyer_input": {"account": f"qq{n}", "region": "安卓QQ"}}
            for _ in range(60):
                r = await self.call(http, "buy", "POST", "/api/v1/orders", json=body, headers=key)
                if r is not None and r.status_code < 500:
                    assert r.status_code == 201, r.text
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(0.15)

    async def pay_at_gateway(self, http: httpx.AsyncClient, sku_id: int) -> None:
        """EPay: card-key orders and wallet recharges, paid at the simulated gateway."""
        n = 0
        while not self.stop.is_set():
            n += 1
            if n % 2:
                r = await self.call(
                    http,
                    "epay order",
                    "POST",
                    "/api/v1/orders",
                    json={"sku_id": sku_id, "pay_method": "epay"},
                    headers={"idempotency-key": uuid.uuid4().hex},
                )
            else:
                r = await self.call(
                    http, "recharge", "POST", "/api/v1/wallet/me/recharges", json={"amount": "5"}
                )
            if r is None or r.status_code >= 500:
                await asyncio.sleep(0.3)
                continue
            assert r.status_code == 201, r.text
            pay_url = r.json()["pay_url"]
            out = pay_url.split("out_trade_no=")[1].split("&")[0]
            page = await http.get(pay_url)  # the simulator checks our signature
            assert page.status_code == 200, page.text
            paid = await http.post(pay_url.split("submit.php")[0] + f"pay/{out}")
            assert paid.status_code == 200, paid.text  # taken at the gateway
            self.paid_at_gateway.append(out)
            await asyncio.sleep(0.3)

    async def read(self, http: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            await self.call(http, "list orders", "GET", "/api/v1/orders")
            await self.call(http, "wallet", "GET", "/api/v1/wallet/me")
            await asyncio.sleep(0.1)


async def _ready(base: str, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=3) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz not 200 within {timeout_s} s")


async def _db_figures(dsn: str, paid: list[str]) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            "orders_in_flight": await conn.fetchval(
                "SELECT count(*) FROM orders WHERE status IN ('paid', 'delivering')"
            ),
            "paid_not_credited": await conn.fetchval(
                "SELECT count(*) FROM payments WHERE out_trade_no = any($1::text[]) "
                "AND status <> 'succeeded'",
                paid,
            ),
            "outbox_open": await conn.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE done_at IS NULL"
            ),
            "outbox_failed": await conn.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL"
            ),
            "ledger_sum": await conn.fetchval("SELECT coalesce(sum(amount), 0) FROM wallet_lines"),
            "balances_off": await conn.fetchval(
                "SELECT count(*) FROM wallet_accounts a WHERE a.kind = 'user' AND a.balance <> "
                "(SELECT coalesce(sum(amount), 0) FROM wallet_lines l WHERE l.account_id = a.id)"
            ),
            "delivered": await conn.fetchval(
                "SELECT count(*) FROM orders WHERE status = 'delivered'"
            ),
        }
    finally:
        await conn.close()


async def _scenario(base: str, var: Path, run: subprocess.Popen[str]) -> None:
    data_dir = var / "postgres"
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        r = await http.post("/api/v1/auth/login", json={"login": CUSTOMER, "password": PASSWORD})
        token = r.json()["access_token"]
        products = (await http.get("/api/v1/shop/products")).json()
        by_type = {p["delivery_type"]: p["skus"][0]["id"] for p in products}
        work = Workload(base, token)
        tasks = [
            asyncio.create_task(work.buy_with_balance(http, by_type["direct_recharge"])),
            asyncio.create_task(work.pay_at_gateway(http, by_type["card_key"])),
            asyncio.create_task(work.read(http)),
        ]
        await asyncio.sleep(3)
        # the operator's restart: the supervisor is paused, PostgreSQL stopped for ~5 s
        run.send_signal(signal.SIGSTOP)
        try:
            stopping_at = time.monotonic()  # sessions end while pg_ctl waits for the stop
            await asyncio.to_thread(_pg_ctl, data_dir, "-m", "fast", "-w", "stop")
            down_at = time.monotonic()
            await asyncio.sleep(5)
        finally:
            run.send_signal(signal.SIGCONT)  # … and `kameng run` starts it again
        up_at = await _ready(base, 60)
        assert up_at - down_at >= 5
        await asyncio.sleep(6)
        work.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)

    answers = work.answers
    lost = [a for a in answers if a.status == 0]
    assert not lost, f"requests without an answer: {lost[:5]}"
    errors = [a for a in answers if a.status == 500]
    assert not errors, f"{len(errors)} answers were 500: {errors[:5]}"
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the outage was not felt: the test proves nothing"
    for a in unavailable:
        assert (a.code, a.retry_after) == ("service_unavailable", "2"), a
        assert a.request_id, a
        assert stopping_at <= a.at <= up_at + 3, f"503 outside the outage: {a}"
    assert {a.status for a in answers} <= {200, 201, 503}, {a.status for a in answers}
    assert work.paid_at_gateway

    socket_dir = (data_dir / "postmaster.pid").read_text().splitlines()[4]
    dsn = f"postgresql://postgres@/kameng?host={socket_dir}"
    deadline = time.monotonic() + 90
    while True:
        figures = await _db_figures(dsn, work.paid_at_gateway)
        settled = (
            figures["orders_in_flight"] == 0
            and figures["paid_not_credited"] == 0
            and figures["outbox_open"] == 0
        )
        if settled or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert figures["orders_in_flight"] == 0, figures  # every paid order delivered
    assert figures["paid_not_credited"] == 0, figures  # every gateway payment credited
    assert figures["outbox_open"] == 0, figures
    assert figures["outbox_failed"] == 0, figures
    assert figures["ledger_sum"] == Decimal(0), figures
    assert figures["balances_off"] == 0, figures
    assert figures["delivered"] >= 10, figures

    # Redis killed: nobody starts it by hand, yet the shop is ready again
    redis_pid = int((var / "redis" / "redis.pid").read_text().strip())
    os.kill(redis_pid, signal.SIGKILL)
    async with httpx.AsyncClient(base_url=base, timeout=3) as http:
        deadline = time.monotonic() + 10
        while (await http.get("/readyz")).status_code == 200:
            assert time.monotonic() < deadline, "/readyz never noticed Redis was gone"
            await asyncio.sleep(0.1)
    await _ready(base, 30)
    assert int((var / "redis" / "redis.pid").read_text().strip()) != redis_pid


def test_postgres_restart_and_redis_kill_under_kameng_run(tmp_path: Path) -> None:
    port = free_port()
    var = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"KAMENG_DATABASE_URL", "KAMENG_REDIS_URL", "DATABASE_URL", "REDIS_URL"}
        and not k.startswith("KAMENG_QUEUE")
    }
    env.update(
        KAMENG_VAR_DIR=str(var),
        KAMENG_PORT=str(port),
        KAMENG_OUTBOX_SWEEP_INTERVAL_S="1",
        KAMENG_PAYMENT_POLL_EVERY_S="2",
        KAMENG_PAYMENT_POLL_FIRST_S="2",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "kameng_api.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # keep reading: a full pipe would stall `kameng run`
        assert run.stdout is not None
        for line in run.stdout:
            out.append(line)
            if "demo logins" in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    pids: set[int] = set()
    try:
        assert ready.wait(120), "".join(out)
        asyncio.run(_scenario(f"http://127.0.0.1:{port}", var, run))
        pids = _descendants(run.pid)
        pids.add(int((var / "postgres" / "postmaster.pid").read_text().split()[0]))
        pids.add(int((var / "redis" / "redis.pid").read_text().strip()))
    finally:
        run.send_signal(signal.SIGCONT)
        run.send_signal(signal.SIGINT)
        try:
            run.wait(60)
        finally:
            if run.poll() is None:
                run.kill()
        reader.join(5)
    text = "".join(out)
    assert run.returncode == 0, text
    for said in ("PostgreSQL is down", "PostgreSQL started again", "Redis is down"):
        assert said in text, text
    assert "Redis started again" in text, text
    time.sleep(0.5)
    left = sorted(p for p in pids if _alive(p))
    assert not left, f"processes left running: {left}\n{text[-3000:]}"
