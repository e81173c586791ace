"""A local supplier speaking the Fulu open-platform protocol (``suppliers/fulu.py``): the
tests' and the bench's counterpart.

It checks every envelope's signature (and its app key), is idempotent by
``customer_order_no`` (a repeated order is the same order: the top-up happens once), and
behaves per product (``product_modes``) or globally (``mode``):

- ``success`` — tops up at once; ``failed`` — refuses the order (``order_status: failed``);
- ``processing`` — the order stays processing until ``finish()`` or until it was queried
  ``finish_after`` times (then it succeeds);
- ``untreated`` — like processing but answers ``untreated``;
- ``timeout`` — the order IS taken (and topped up) but the answer comes after ``hang_s``
  (a caller with a shorter timeout never sees it); ``timeout_rate`` makes only that share
  of new orders time out (deterministically by order number);
- ``http500`` — answers HTTP 500 to everything (the order is not taken).

``topups`` counts real top-ups per order: any value above 1 is a duplicate. Card products
(``card_products``) deliver card secrets, encrypted per the protocol. With ``callback_url``
set, a settled order is pushed there, signed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kameng_api.suppliers.fulu import encrypt_card, sign

Mode = Literal["success", "failed", "processing", "untreated", "timeout", "http500"]
NOT_FOUND = 4001


@dataclass
class FuluOrder:
    customer_order_no: str
    product_id: str
    buy_num: int
    account: str
    status: str
    order_id: str = field(default_factory=lambda: f"F{secrets.randbelow(10**12):012d}")
    queries: int = 0
    cards: list[dict[str, str]] = field(default_factory=list)
    card: bool = False  # ordered as a card order (fulu.order.card.add)


class FuluSimulator:
    def __init__(
        self,
        app_key: str,
        secret: str,
        *,
        mode: Mode = "success",
        hang_s: float = 3.0,
        price: Decimal = Decimal("5.5000"),
    ) -> None:
        self.app_key = app_key
        self.secret = secret
        self.mode: Mode = mode
        self.product_modes: dict[str, Mode] = {}
        self.card_products: set[str] = set()
        self.card_shortfall = 0  # a card order delivers this many cards fewer than bought
        self.hang_s = hang_s
        self.timeout_rate = 1.0  # share of new orders that time out in "timeout" mode
        self.finish_after = 0  # processing orders succeed after this many queries (0: never)
        self.price = price
        self.balance = Decimal("10000.0000")
        self.callback_url: str | None = None
        self.orders: dict[str, FuluOrder] = {}
        self.topups: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()  # per method
        self.bad_signatures = 0
        self._lock = asyncio.Lock()
        self.app = Starlette(routes=[Route("/api/getway", self._gateway, methods=["POST"])])

    # ---- the protocol ------------------------------------------------------------------

    def _answer(self, code: int, message: str, result: Any = None) -> JSONResponse:
        body: dict[str, Any] = {
            "code": code,
            "message": message,
            "result": "" if result is None else json.dumps(result, ensure_ascii=False),
        }
        body["sign"] = sign(body, self.secret)
        return JSONResponse(body)

    def _mode(self, product_id: str) -> Mode:
        return self.product_modes.get(product_id, self.mode)

    def _times_out(self, order_no: str) -> bool:
        digest = hashlib.sha256(order_no.encode()).digest()
        return int.from_bytes(digest[:4]) / 2**32 < self.timeout_rate

    def _view(self, o: FuluOrder) -> dict[str, Any]:
        return {
            "order_id": o.order_id,
            "customer_order_no": o.customer_order_no,
            "product_id": o.product_id,
            "buy_num": o.buy_num,
            "order_status": o.status,
            "order_price": str(self.price * o.buy_num),
            "recharge_description": "充值失败" if o.status == "failed" else "",
            "cards": o.cards,
        }

    async def _gateway(self, request: Request) -> Response:
        try:
            env = json.loads(await request.body())
            given = str(env["sign"])
            method = str(env["method"])
            biz = json.loads(env["biz_content"])
        except (ValueError, KeyError, TypeError):
            return self._answer(1001, "参数错误")
        if env.get("app_key") != self.app_key or not secrets.compare_digest(
            sign(env, self.secret), given
        ):
            self.bad_signatures += 1
            return self._answer(1002, "签名错误")
        self.calls[method] += 1
        if method in ("fulu.order.direct.add", "fulu.order.card.add"):
            return await self._add(biz, card=method == "fulu.order.card.add")
        if self.mode == "http500":
            return Response("boom", status_code=500)
        if method == "fulu.order.info.get":
            return await self._get(str(biz.get("customer_order_no") or ""))
        if method == "fulu.user.info.get":
            return self._answer(0, "", {"name": "kameng", "balance": str(self.balance)})
        if method == "fulu.goods.list.get":
            return self._answer(
                0,
                "",
                [
                    {
                        "product_id": "10000001",
                        "product_name": "腾讯Q币 10元",
                        "purchase_price": "9.8500",
                        "product_type": "直充",
                        "stock_status": "有",
                    },
                    {
                        "product_id": "20000001",
                        "product_name": "王者荣耀点券卡",
                        "purchase_price": "29.5000",
                        "product_type": "卡密",
                        "stock_status": "断货",
                    },
                ],
            )
        return self._answer(1003, "未知方法")

    async def _add(self, biz: dict[str, Any], *, card: bool) -> Response:
        order_no = str(biz.get("customer_order_no") or "")
        product = str(biz.get("product_id") or "")
        mode = self._mode(product)
        if mode == "http500":
            return Response("boom", status_code=500)
        async with self._lock:
            o = self.orders.get(order_no)
            new = o is None
            if o is None:
                status = {
                    "failed": "failed",
                    "processing": "processing",
                    "untreated": "untreated",
                }.get(mode, "success")
                o = self.orders[order_no] = FuluOrder(
                    order_no,
                    product,
                    int(biz.get("buy_num") or 1),
                    str(biz.get("charge_account") or ""),
                    status,
                    card=card,
                )
                if status == "success":
                    self._top_up(o, card or product in self.card_products)
        if new and mode == "timeout" and self._times_out(order_no):
            await asyncio.sleep(self.hang_s)
        if new and o.status in ("success", "failed"):
            await self._push(o)
        return self._answer(0, "", self._view(o))

    async def _get(self, order_no: str) -> Response:
        o = self.orders.get(order_no)
        if o is None:
            return self._answer(NOT_FOUND, "订单不存在")
        o.queries += 1
        if o.status in ("processing", "untreated") and 0 < self.finish_after <= o.queries:
            self.finish(order_no)
        return self._answer(0, "", self._view(o))

    def _top_up(self, o: FuluOrder, card: bool) -> None:
        self.topups[o.customer_order_no] += 1
        self.balance -= self.price * o.buy_num
        if card:
            o.cards = [
                {
                    "card_number": encrypt_card(f"CN{secrets.token_hex(6)}", self.secret),
                    "card_pwd": encrypt_card(f"PW-{secrets.token_hex(8)}", self.secret),
                    "card_deadline": "2030-12-31 23:59:59",
                }
                for _ in range(max(o.buy_num - self.card_shortfall, 0))
            ]

    # ---- driving it from a test -------------------------------------------------------

    def finish(self, order_no: str, status: str = "success") -> None:
        """A processing order completes (or fails) at the supplier."""
        o = self.orders[order_no]
        o.status = status
        if status == "success":
            self._top_up(o, o.card or o.product_id in self.card_products)

    def notice(self, order_no: str) -> bytes:
        """The signed callback body for an order (what ``_push`` sends)."""
        o = self.orders[order_no]
        data: dict[str, Any] = {
            "order_id": o.order_id,
            "customer_order_no": o.customer_order_no,
            "order_status": o.status,
            "product_id": o.product_id,
            "buy_num": o.buy_num,
            "recharge_description": "",
        }
        data["sign"] = sign(data, self.secret)
        return json.dumps(data, ensure_ascii=False).encode()

    async def _push(self, o: FuluOrder) -> None:
        if not self.callback_url:
            return
        try:
            async with httpx.AsyncClient(timeout=5) as c:
                await c.post(self.callback_url, content=self.notice(o.customer_order_no))
        except httpx.HTTPError:
            pass
