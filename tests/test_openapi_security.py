"""The OpenAPI document says which operations need the bearer token, and it is true: every
operation that answers 401 to a request without a token declares the bearer scheme, every
one that declares it (as required) answers 401 without one, and the public ones (sign-in,
the shop's catalogue, the EPay notice, health) declare none. Derived from the routes' access
rules, so a route added later is covered without a list to keep."""

from __future__ import annotations

import re
from typing import Any

import httpx

from kameng_api.openapi import openapi_dict

REQUIRED = [{"bearer": []}]
OPTIONAL = [{}, {"bearer": []}]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_the_bearer_scheme_is_declared() -> None:
    doc = openapi_dict()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "security" not in doc  # no global requirement: each operation says its own


def test_public_operations_declare_no_token() -> None:
    by_id = {op["operationId"]: op for _, _, op in _operations(openapi_dict())}
    for public in (
        "auth:login",
        "auth:login_2fa",
        "auth:refresh",
        "auth:register",
        "auth:request_password_reset",
        "system:liveness",
    ):
        assert "security" not in by_id[public], public
    ops = {(m, p): op for m, p, op in _operations(openapi_dict())}
    assert "security" not in ops[("POST", "/api/v1/payments/epay/notify")]
    assert "security" not in ops[("GET", "/readyz")]
    # the catalogue serves anyone and shows a signed-in buyer their price: token optional
    assert ops[("GET", "/api/v1/shop/products")]["security"] == OPTIONAL
    assert ops[("GET", "/api/v1/me")]["security"] == REQUIRED
    assert ops[("POST", "/api/v1/orders")]["security"] == REQUIRED


async def test_what_answers_401_without_a_token_is_what_declares_the_token(
    client: httpx.AsyncClient,
) -> None:
    undeclared, untrue = [], []
    for method, path, op in _operations(openapi_dict()):
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = await client.request(method, url, json={} if method != "GET" else None)
        declared = op.get("security")
        # asks for the bearer token (not: a refresh token or a signature that is missing)
        wants_token = r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"
        if wants_token and declared != REQUIRED:
            undeclared.append(f"{method} {path}: {declared}")
        if declared == REQUIRED and not wants_token:
            untrue.append(f"{method} {path}: {r.status_code}")
        if declared == REQUIRED:
            assert "401" in op["responses"], path
    assert not undeclared, undeclared
    assert not untrue, untrue
    assert len([1 for _, _, op in _operations(openapi_dict()) if op.get("security")]) > 50
