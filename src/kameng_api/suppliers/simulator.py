"""A local direct-recharge supplier speaking ``suppliers/http_json.py``'s protocol: the tests'
counterpart and the demo's upstream.

It checks signatures, treats a repeated ``request_id`` as the same order (the top-up happens
once), and can be told how to behave: ``success`` (default), ``fail``, ``processing`` (stays
processing until ``finish()``), or ``hang`` (holds each request for ``hang_s`` first — a slow
upstream, or one our worker dies waiting for). ``topups`` counts real top-ups per request id.
``/balance`` and ``/products`` answer fixed figures (test connection, catalogue).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kameng_api.suppliers.http_json import signature

Mode = Literal["success", "fail", "processing", "hang"]
SUPPLIER_SIMULATOR_PATH = "/supplier-sim"  # where the demo API hosts it


@dataclass
class SimRecharge:
    request_id: str
    body: dict[str, object]
    state: str
    ref: str = field(default_factory=lambda: f"S{secrets.randbelow(10**10):010d}")


class SupplierSimulator:
    def __init__(self, secret: str, *, mode: Mode = "success", hang_s: float = 5.0) -> None:
        self.secret = secret
        self.mode: Mode = mode
        self.hang_s = hang_s
        self.orders: dict[str, SimRecharge] = {}
        self.topups: Counter[str] = Counter()
        self.requests: list[str] = []  # request ids in arrival order (submits and queries)
        self._lock = asyncio.Lock()
        self.app = Starlette(
            routes=[
                Route("/orders", self._submit, methods=["POST"]),
                Route("/orders/{request_id}", self._query, methods=["GET"]),
                Route("/balance", self._balance, methods=["GET"]),
                Route("/products", self._products, methods=["GET"]),
            ]
        )

    def _verified(self, request: Request, body: bytes) -> bool:
        ts = request.headers.get("x-kameng-timestamp", "")
        sig = request.headers.get("x-kameng-signature", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return False
        want = signature(self.secret, ts, request.method, request.url.path, body)
        return secrets.compare_digest(want, sig)

    @staticmethod
    def _answer(o: SimRecharge) -> JSONResponse:
        return JSONResponse(
            {"request_id": o.request_id, "state": o.state, "ref": o.ref, "message": ""}
        )

    async def _submit(self, request: Request) -> Response:
        body = await request.body()
        if not self._verified(request, body):
            return JSONResponse({"message": "bad signature"}, status_code=401)
        data = await request.json()
        rid = str(data["request_id"])
        self.requests.append(rid)
        if self.mode == "hang":
            await asyncio.sleep(self.hang_s)
        async with self._lock:
            o = self.orders.get(rid)
            if o is None:  # a new order: top up now (or fail / start processing)
                state = {"fail": "failed", "processing": "processing"}.get(self.mode, "success")
                o = self.orders[rid] = SimRecharge(rid, data, state)
                if state == "success":
                    self.topups[rid] += 1
        return self._answer(o)

    async def _query(self, request: Request) -> Response:
        if not self._verified(request, b""):
            return JSONResponse({"message": "bad signature"}, status_code=401)
        rid = request.path_params["request_id"]
        self.requests.append(rid)
        o = self.orders.get(rid)
        if o is None:
            return JSONResponse({"message": "no such order"}, status_code=404)
        return self._answer(o)

    async def _balance(self, request: Request) -> Response:
        if not self._verified(request, b""):
            return JSONResponse({"message": "bad signature"}, status_code=401)
        return JSONResponse({"balance": "10000.0000"})

    async def _products(self, request: Request) -> Response:
        if not self._verified(request, b""):
            return JSONResponse({"message": "bad signature"}, status_code=401)
        return JSONResponse({"items": [{"product_id": "qq-10", "name": "Q币 10元", "cost": "9.9"}]})

    def finish(self, request_id: str, state: str = "success") -> None:
        """A processing order completes (or fails) at the supplier."""
        o = self.orders[request_id]
        o.state = state
        if state == "success":
            self.topups[request_id] += 1
