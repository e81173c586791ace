"""A local EPay (易支付) gateway: the tests' counterpart and the demo's pay page.

It speaks the protocol for real: ``submit.php`` checks the merchant's signature and shows a
pay page; paying sends the signed asynchronous notice to the order's ``notify_url`` over
HTTP (and retries until it hears ``success``, like a real gateway); ``api.php?act=order``
answers order queries. Tests also use it to craft notices: duplicates, out of order, forged.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kameng_api.payments import epay


@dataclass
class SimOrder:
    out_trade_no: str
    money: str
    name: str
    notify_url: str
    return_url: str
    channel: str
    trade_no: str = field(default_factory=lambda: f"T{secrets.randbelow(10**12):012d}")
    paid: bool = False
    answers: list[str] = field(default_factory=list)  # what the merchant answered each notice


SIMULATOR_PATH = "/epay-sim"  # where the demo API hosts it (KAMENG_EPAY_SIMULATOR)


class EpaySimulator:
    def __init__(self, pid: str, key: str) -> None:
        self.pid = pid
        self.key = key
        self.orders: dict[str, SimOrder] = {}
        self.app = Starlette(
            routes=[
                Route("/submit.php", self._submit, methods=["GET", "POST"]),
                Route("/pay/{out_trade_no}", self._pay, methods=["POST"]),
                Route("/api.php", self._api, methods=["GET"]),
            ]
        )

    # ---- HTTP ---------------------------------------------------------------------------

    async def _submit(self, request: Request) -> Response:
        params: dict[str, str] = dict(request.query_params.items())
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        if params.get("pid") != self.pid or not epay.verify(params, self.key):
            return PlainTextResponse("签名错误 (bad signature)", status_code=400)
        out = params["out_trade_no"]
        self.orders.setdefault(
            out,
            SimOrder(
                out_trade_no=out,
                money=params["money"],
                name=params.get("name", ""),
                notify_url=params["notify_url"],
                return_url=params.get("return_url", ""),
                channel=params.get("type", "alipay"),
            ),
        )
        o = self.orders[out]
        return HTMLResponse(
            f"""<!doctype html><meta charset="utf-8"><title>易支付模拟收银台</title>
<body style="font-family:sans-serif;max-width:28rem;margin:3rem auto">
<h1>易支付 · 模拟收银台</h1><p>商品：{html.escape(o.name)}</p>
<p>金额：<strong id="money">¥{html.escape(o.money)}</strong></p>
<form method="post" action="pay/{html.escape(out)}"><button id="pay" type="submit">
确认支付</button></form></body>"""
        )

    async def _pay(self, request: Request) -> Response:
        o = self.orders.get(request.path_params["out_trade_no"])
        if o is None:
            return PlainTextResponse("no such order", status_code=404)
        await self.pay(o.out_trade_no)
        back = html.escape(o.return_url)
        return HTMLResponse(
            f'<!doctype html><meta charset="utf-8"><p id="done">支付成功</p>'
            f'<p><a id="back" href="{back}">返回商户</a></p>'
        )

    async def _api(self, request: Request) -> Response:
        q = request.query_params
        if q.get("act") != "order" or q.get("pid") != self.pid or q.get("key") != self.key:
            return JSONResponse({"code": -1, "msg": "bad request"})
        o = self.orders.get(q.get("out_trade_no", ""))
        if o is None:
            return JSONResponse({"code": -1, "msg": "no such order"})
        return JSONResponse(
            {
                "code": 1,
                "trade_no": o.trade_no,
                "out_trade_no": o.out_trade_no,
                "type": o.channel,
                "pid": self.pid,
                "name": o.name,
                "money": o.money,
                "status": 1 if o.paid else 0,
            }
        )

    # ---- driving it ---------------------------------------------------------------------

    def notice(
        self, out_trade_no: str, *, sign_key: str | None = None, **overrides: Any
    ) -> dict[str, str]:
        """The signed notice for an order (``overrides`` change fields before signing;
        ``sign_key`` signs with another key — a forgery)."""
        o = self.orders[out_trade_no]
        params = {
            "pid": self.pid,
            "trade_no": o.trade_no,
            "out_trade_no": o.out_trade_no,
            "type": o.channel,
            "name": o.name,
            "money": o.money,
            "trade_status": epay.TRADE_SUCCESS,
            **{k: str(v) for k, v in overrides.items()},
        }
        params["sign"] = epay.sign(params, self.key if sign_key is None else sign_key)
        params["sign_type"] = "MD5"
        return params

    async def send(
        self, out_trade_no: str, params: dict[str, str], *, method: str = "GET"
    ) -> httpx.Response:
        """Deliver a notice to the order's ``notify_url`` over HTTP."""
        o = self.orders[out_trade_no]
        async with httpx.AsyncClient(timeout=10) as client:
            if method == "GET":
                r = await client.get(o.notify_url, params=params)
            else:
                r = await client.post(o.notify_url, data=params)
        o.answers.append(r.text)
        return r

    async def pay(self, out_trade_no: str, *, attempts: int = 3) -> bool:
        """The buyer pays: mark it paid and notify until the merchant says ``success``."""
        o = self.orders[out_trade_no]
        o.paid = True
        for _ in range(attempts):
            try:
                r = await self.send(out_trade_no, self.notice(out_trade_no))
            except httpx.HTTPError:
                continue
            if r.text == "success":
                return True
        return False
