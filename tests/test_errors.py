"""Every error is problem+json with a stable code; a 500 shows only a request id."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from kameng_api.core.actor import UserKind
from kameng_api.core.errors import Conflict
from kameng_api.main import create_app
from kameng_api.settings import get_settings

PROBLEM = "application/problem+json"

# refused writes are written to the operation log: give every test its own database
pytestmark = pytest.mark.usefixtures("app_db")


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    qty: int = Field(ge=1)


def _app_with_probe_routes() -> httpx.AsyncClient:
    """The real app plus three routes that exercise the error machinery."""
    app = create_app(get_settings())
    r = APIRouter(prefix="/api/v1/_t")

    @r.post("/items")
    async def create(item: Item) -> Item:
        return item

    @r.post("/conflict")
    async def conflict() -> None:
        raise Conflict("That order number is taken.", code="order_no_taken")

    @r.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(r)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_unknown_api_route_is_problem_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/does-not-exist")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["request_id"] == r.headers["x-request-id"]


async def test_wrong_method_is_problem_405(client: httpx.AsyncClient) -> None:
    r = await client.delete("/api/v1/system/info")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "method_not_allowed"


async def test_validation_errors_list_each_field() -> None:
    async with _app_with_probe_routes() as c:
        r = await c.post("/api/v1/_t/items", json={"name": "x" * 11, "qty": 0})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "validation_failed"
    fields = {tuple(e["loc"]) for e in body["errors"]}
    assert fields == {("body", "name"), ("body", "qty")}


async def test_malformed_json_is_422_not_500() -> None:
    async with _app_with_probe_routes() as c:
        r = await c.post(
            "/api/v1/_t/items", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


async def test_app_error_keeps_its_code() -> None:
    async with _app_with_probe_routes() as c:
        r = await c.post("/api/v1/_t/conflict")
    assert r.status_code == 409
    assert r.json()["code"] == "order_no_taken"
    assert r.json()["detail"] == "That order number is taken."


async def test_unexpected_error_shows_request_id_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    async with _app_with_probe_routes() as c:
        r = await c.get("/api/v1/_t/boom", headers={"x-request-id": "req-abc-123"})
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "req-abc-123"
    assert "secret internal detail" not in r.text
    assert "RuntimeError" not in r.text
    # the traceback went to the log instead
    assert any(
        "secret internal detail" in (rec.exc_text or "") or rec.exc_info for rec in caplog.records
    )


async def test_body_over_limit_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMENG_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    try:
        async with _app_with_probe_routes() as c:
            r = await c.post(
                "/api/v1/_t/items",
                content=b'{"name": "' + b"a" * 5000 + b'", "qty": 1}',
                headers={"content-type": "application/json"},
            )
    finally:
        monkeypatch.delenv("KAMENG_MAX_BODY_BYTES")
        get_settings.cache_clear()
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "payload_too_large"


async def test_streamed_body_over_limit_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Content-Length (chunked upload): the limit is enforced while reading."""
    monkeypatch.setenv("KAMENG_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1000

    try:
        async with _app_with_probe_routes() as c:
            r = await c.post(
                "/api/v1/_t/items", content=chunks(), headers={"content-type": "application/json"}
            )
    finally:
        monkeypatch.delenv("KAMENG_MAX_BODY_BYTES")
        get_settings.cache_clear()
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_no_free_database_connection_is_a_503_to_retry_not_a_500(app_db: str) -> None:
    """Overload (every pooled connection busy) answers 503 + Retry-After after the pool
    timeout, in the problem shape; it never surfaces as an internal error."""
    from kameng_api.core import db
    from tests.support.factories import login, make_user

    account = await make_user(kind=UserKind.customer)
    await db.dispose_engine()
    db.init_engine(get_settings(), pool_size=1, max_overflow=0, pool_timeout=0.3)
    app = create_app(get_settings())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        h = await login(client, account)
        async with db.get_engine().connect():  # the only connection, held
            r = await client.get("/api/v1/wallet/me", headers=h)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "service_unavailable"
        # and once a connection is free again, the same request works
        assert (await client.get("/api/v1/wallet/me", headers=h)).status_code == 200
