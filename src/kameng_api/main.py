"""create_app(): routers, middleware, exception handlers, lifespan, the built SPA."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute, _iter_routes_with_context
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from kameng_api import __version__, contract, tasks
from kameng_api.audit import service as audit_service
from kameng_api.audit.router import router as audit_router
from kameng_api.catalog.router import router as catalog_router
from kameng_api.catalog.router import shop_router
from kameng_api.core import db, memory, procmetrics
from kameng_api.core.errors import (
    install_error_handlers,
    set_allowed_methods,
    set_rejection_recorder,
)
from kameng_api.core.logging import configure_logging
from kameng_api.core.middleware import (
    BodySizeLimitMiddleware,
    NulGuardMiddleware,
    RequestContextMiddleware,
)
from kameng_api.core.redis import close_queue
from kameng_api.identity.router import auth_router, login_log_router, me_router, users_router
from kameng_api.inventory.router import router as inventory_router
from kameng_api.orders.lane import PurchaseLane
from kameng_api.orders.router import admin_router as orders_admin_router
from kameng_api.orders.router import router as orders_router
from kameng_api.payments.router import router as payments_router
from kameng_api.rbac.router import router as roles_router
from kameng_api.resellers.callbacks_router import admin_router as reseller_callbacks_admin_router
from kameng_api.resellers.callbacks_router import router as reseller_callbacks_router
from kameng_api.resellers.lane import OpenOrderLane
from kameng_api.resellers.router import account_router as reseller_account_router
from kameng_api.resellers.router import admin_router as reseller_admin_router
from kameng_api.resellers.router import open_router
from kameng_api.settings import Settings, get_settings
from kameng_api.suppliers.router import router as suppliers_router
from kameng_api.suppliers.sync_router import router as supplier_sync_router
from kameng_api.system.router import ops_router
from kameng_api.system.router import router as system_router
from kameng_api.wallet.router import router as wallet_router

log = logging.getLogger("kameng.app")

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    # routes set operation_id="tag:name" explicitly; this is only the fallback
    return f"{route.tags[0] if route.tags else 'api'}:{route.name}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db.init_engine(role="kameng-api")
    yield
    await close_queue()
    await db.dispose_engine()
    procmetrics.process_exit()


def _mount_spa(app: FastAPI, spa_dir: Path) -> None:
    index = spa_dir / "index.html"
    if not index.is_file():
        log.info("no built SPA at %s; serving the API only", spa_dir)
        return
    assets = spa_dir / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="spa-assets")
    root = spa_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        if path in ("api", "open") or path.startswith(("api/", "open/")):
            raise StarletteHTTPException(404, "No such API route.")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        # client-side routes get the shell; it must never be cached stale
        return FileResponse(index, headers={"cache-control": "no-cache"})


class KamengApp(FastAPI):
    """The API, with the open-API lane (resellers/lane.py) and the purchase lane
    (orders/lane.py) in front of everything: a flash sale's purchases, sold-out answers and
    resellers' signed card-key orders skip the middleware and routing layers, which cost
    more than the answer itself. The lanes hand every other request on unchanged."""

    lane: PurchaseLane | OpenOrderLane | None = None

    _contract_of: int | None = None  # id of the document normalized last

    def openapi(self) -> dict[str, Any]:
        doc = super().openapi()  # cached by FastAPI until the routes change
        if self._contract_of != id(doc):
            contract.normalized(self, doc)
            self._contract_of = id(doc)
        return doc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is not None:
            await self.lane(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _allowed_methods(app: FastAPI) -> Callable[[str], list[str]]:
    """path → every method its routes answer (documented ones), for a 405's ``Allow``."""
    table: list[tuple[re.Pattern[str], frozenset[str]]] = []
    for route, ctx in _iter_routes_with_context(app.routes):
        if isinstance(route, APIRoute) and route.include_in_schema:
            regex, _, _ = compile_path(ctx.path if ctx is not None else route.path)
            table.append((regex, frozenset(route.methods or ())))

    def allowed(path: str) -> list[str]:
        return sorted({m for regex, methods in table if regex.match(path) for m in methods})

    return allowed


def create_app(settings: Settings | None = None) -> KamengApp:
    settings = settings or get_settings()
    tasks.load()
    app = KamengApp(
        title="kameng API",
        version=__version__,
        description="Back office and API of the kameng 卡盟 platform. Every error is "
        "`application/problem+json` (RFC 9457) with a stable `code`. No text the API accepts "
        "(path, query, headers, JSON or form bodies) may contain the NUL character U+0000: "
        "such a request is refused with 422 `validation_failed`.\n\n"
        "## Reseller open API (`/open/v1`, tag `open`)\n\n"
        "Resellers call `/open/v1/*` with a key made under 我的对接 "
        "(`/api/v1/account/reseller/keys`), not with a token. Every request carries "
        "`X-Kameng-App-Id`, `X-Kameng-Timestamp` (Unix seconds, ±300 s), `X-Kameng-Nonce` "
        "(16–64 of `A-Z a-z 0-9 _ -`, once) and `X-Kameng-Signature`: lowercase hex "
        "HMAC-SHA256 with the key's secret over `METHOD\\nPATH\\nCANONICAL_QUERY\\n"
        "TIMESTAMP\\nNONCE\\nSHA256_HEX(body)`. Refusals: 401 `signature_missing`, "
        "`unknown_key`, `stale_timestamp`, `bad_signature`, `nonce_reused`; 403 `ip_refused`; "
        "429 `rate_limited` (`Retry-After`). Step by step, with examples: "
        "docs/reseller-api.md.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    install_error_handlers(app)
    set_rejection_recorder(audit_service.record_rejected_write)

    api = APIRouter(prefix=API_PREFIX)
    for r in (
        auth_router,
        me_router,
        users_router,
        login_log_router,
        roles_router,
        audit_router,
        catalog_router,
        shop_router,
        inventory_router,
        wallet_router,
        orders_router,
        orders_admin_router,
        reseller_account_router,
        reseller_admin_router,
        payments_router,
        reseller_callbacks_router,
        reseller_callbacks_admin_router,
        suppliers_router,
        supplier_sync_router,
        system_router,
    ):
        api.include_router(r)
    app.include_router(ops_router)
    app.include_router(api)
    app.include_router(open_router)  # /open/v1: signed by a reseller's key, not a token
    set_allowed_methods(_allowed_methods(app))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(procmetrics.render(), media_type=CONTENT_TYPE_LATEST)

    if settings.epay_simulator:  # demo: a gateway to pay through (see payments/simulator.py)
        from kameng_api.payments.simulator import SIMULATOR_PATH, EpaySimulator

        app.mount(
            SIMULATOR_PATH,
            EpaySimulator(settings.epay_pid, settings.epay_key.get_secret_value()).app,
        )
    if settings.supplier_simulator:  # demo: an upstream for direct recharges
        from kameng_api.suppliers.simulator import SUPPLIER_SIMULATOR_PATH, SupplierSimulator

        app.mount(
            SUPPLIER_SIMULATOR_PATH,
            SupplierSimulator(settings.recharge_supplier_secret.get_secret_value()).app,
        )
    _mount_spa(app, settings.spa_dir)

    purchases = PurchaseLane(
        partial(FastAPI.__call__, app),
        f"{API_PREFIX}/orders",
        max_bytes=settings.max_body_bytes,
        cors=bool(settings.cors_origins),
    )
    # the open-API lane first (resellers/lane.py): its purchases go to the same batches
    app.lane = OpenOrderLane(
        purchases, purchases, max_bytes=settings.max_body_bytes, cors=bool(settings.cors_origins)
    )
    # added last = outermost
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # card-key files are bigger than any other request (multipart framing on top)
        overrides={
            f"{API_PREFIX}/inventory/imports": settings.inventory_upload_max_bytes + 64 * 1024
        },
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "ETag"],
        )
    app.add_middleware(RequestContextMiddleware)
    return app


def app_factory() -> KamengApp:
    """Entry point for uvicorn's ``--factory``."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    memory.settle_gc()  # a served process: what it loaded stays for good
    return app
