"""Liveness, readiness, system info, metrics and the headers every response carries."""

from __future__ import annotations

import httpx
import pytest

from kameng_api.core import redis as core_redis
from kameng_api.settings import get_settings
from tests.support.factories import login, make_user


async def test_liveness(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_when_postgres_and_redis_answer(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


async def test_not_ready_names_redis_when_it_is_unreachable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    await core_redis.close_queue()
    monkeypatch.setenv("KAMENG_REDIS_URL", "unix:///nonexistent/redis.sock")
    get_settings.cache_clear()
    try:
        r = await client.get("/readyz")
    finally:
        await core_redis.close_queue()
        monkeypatch.undo()
        get_settings.cache_clear()
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


async def test_system_info_reports_version_and_backlog(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/system/info")).status_code == 401
    support = await make_user(roles=("customer_service",))
    r = await client.get("/api/v1/system/info", headers=await login(client, support))
    assert r.status_code == 403  # 客服 does not see the system's internals
    admin = await make_user(roles=("super_admin",))
    r = await client.get("/api/v1/system/info", headers=await login(client, admin))
    assert r.status_code == 200
    info = r.json()
    assert info["name"] == "kameng"
    assert info["version"]
    assert info["environment"] == "test"
    assert info["database"]["ok"] is True
    assert info["redis"]["ok"] is True
    # no worker runs in this test: the page must say so rather than pretend
    assert info["worker"]["ok"] is False
    assert info["outbox"]["pending"] >= 0


async def test_security_headers_and_request_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    # an unsafe incoming id is replaced, not echoed
    r2 = await client.get("/healthz", headers={"x-request-id": "<script>"})
    assert r2.headers["x-request-id"] != "<script>"
    assert len(r2.headers["x-request-id"]) == 32


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'kameng_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text
    assert "kameng_http_request_duration_seconds_bucket" in r.text
    assert "kameng_outbox_lag_seconds" in r.text


async def test_cors_only_for_configured_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    from kameng_api.main import create_app

    monkeypatch.setenv("KAMENG_CORS_ORIGINS", '["https://shop.example"]')
    get_settings.cache_clear()
    try:
        app = create_app(get_settings())
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        ok = await c.get("/healthz", headers={"origin": "https://shop.example"})
        bad = await c.get("/healthz", headers={"origin": "https://evil.example"})
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in bad.headers


async def test_uvicorn_writes_no_access_lines_and_prepares_none() -> None:
    """`kameng serve` logs no access lines (the metrics count requests): uvicorn decides per
    connection from ``hasHandlers()`` whether to format one for every answer, so after our
    logging set-up its protocol must see no access log at all."""
    import logging

    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    from kameng_api.core.logging import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        config = uvicorn.Config(app=lambda *_: None, log_config=None, access_log=False)
        config.load()
        configure_logging("INFO", json_lines=True)  # as the API process does at start-up
        protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        assert protocol.access_log is False
        assert logging.getLogger("uvicorn.error").hasHandlers()  # server errors still logged
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
