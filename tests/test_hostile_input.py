"""Hostile input never reaches a 500: integers beyond PostgreSQL's bigint and NUL characters,
in every path and query parameter of every operation, in bodies and headers — each answered
422 problem+json (or refused earlier by the caller's rights), never 500, nothing written.

The contract itself is checked too: every integer the API accepts is bounded in the OpenAPI
document, so clients and the fuzzer know the range.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import UserKind
from kameng_api.core.bounds import BIGINT_MAX
from kameng_api.openapi import openapi_dict
from tests.support.factories import login, make_user

TOO_BIG = 2**63
NUL = "a\x00b"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = openapi_dict()
    return [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def _request_integers(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every integer schema a request can carry: parameters and request bodies, with the
    component schemas they reference."""
    schemas = doc["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(schemas[name], name)
                return
            if node.get("type") == "integer":
                found.append((where, node))
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for child in node:
                walk(child, where)

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                walk(p["schema"], f"{method} {path} {p['name']}")
            walk(op.get("requestBody", {}), f"{method} {path} body")
    return found


def test_every_integer_a_request_carries_is_bounded_by_what_postgres_stores() -> None:
    found = _request_integers(openapi_dict())
    assert len(found) > 50  # the walk reaches parameters and bodies
    unbounded = [
        where
        for where, s in found
        if not isinstance(s.get("maximum"), int)
        or not isinstance(s.get("minimum"), int)
        or not -(2**63) <= s["minimum"] <= s["maximum"] <= BIGINT_MAX
    ]
    assert unbounded == []


def _with(path: str, op: dict[str, Any], bad: Any, kind: str) -> tuple[str, dict[str, Any]]:
    """The operation's URL with ``bad`` in every path (and query) parameter of ``kind``."""
    query: dict[str, Any] = {}
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
        value = bad if kind in types else ("1" if "integer" in types else "x")
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", quote(str(value), safe=""))
        elif p["in"] == "query" and kind in types:
            query[p["name"]] = value
    return path, query


@pytest.mark.slow
async def test_out_of_range_integers_and_nul_anywhere_are_422_never_500(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    headers = await login(client, admin)
    customer = await login(client, await make_user(kind=UserKind.customer))
    problems: list[str] = []
    tried = 0
    for method, path, op in _operations():
        for kind, bad in (("integer", TOO_BIG), ("string", NUL)):
            url, query = _with(path, op, bad, kind)
            if url == path and not query:
                continue  # no parameter of this kind
            for who in (headers, customer):
                body = {} if method in {"POST", "PUT", "PATCH"} else None
                r = await client.request(method, url, params=query, json=body, headers=who)
                tried += 1
                ctype = r.headers.get("content-type", "")
                if r.status_code >= 500 or (
                    r.status_code >= 400 and not ctype.startswith("application/problem+json")
                ):
                    problems.append(f"{method} {url} {query}: {r.status_code} {ctype}")
    assert tried > 100
    assert problems == []


async def test_nul_in_a_json_body_a_form_a_header_or_the_path_is_refused_422(
    client: httpx.AsyncClient,
) -> None:
    headers = await login(client, await make_user(roles=("super_admin",), mfa=True))
    cases = [
        client.post("/api/v1/catalog/categories", json={"name": NUL}, headers=headers),
        client.post(
            "/api/v1/catalog/categories",
            content=b'{"name": "ok\\\\u0000", "x": "\\u0000"}',
            headers={**headers, "content-type": "application/json"},
        ),
        client.post(
            "/api/v1/payments/epay/notify",
            content=b"out_trade_no=a%00b",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        client.get("/api/v1/orders/abc%00def", headers=headers),
        client.get("/api/v1/audit-log", params={"action": NUL}, headers=headers),
        client.get("/api/v1/me", headers={**headers, "user-agent": "evil\x00agent"}),
    ]
    for request in cases:
        r = await request
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "validation_failed"
        assert "NUL" in r.json()["detail"]
        assert r.headers["x-request-id"]


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(
    client: httpx.AsyncClient,
) -> None:
    headers = await login(client, await make_user(roles=("super_admin",), mfa=True))
    r = await client.post(
        "/api/v1/catalog/categories",
        content=b'{"name": "C:\\\\u0000dir"}',
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "C:\\u0000dir"


async def test_a_purchase_of_sku_2_to_the_63_is_a_422_problem_from_the_lane_too(
    client: httpx.AsyncClient,
) -> None:
    headers = await login(client, await make_user(kind=UserKind.customer))
    for body in (
        b'{"sku_id": 9223372036854775808, "quantity": 1}',
        b'{"sku_id": 1, "quantity": 1, "buyer_input": {"account": "a\\u0000"}}',
    ):
        r = await client.post(
            "/api/v1/orders",
            content=body,
            headers={**headers, "content-type": "application/json", "idempotency-key": "k" * 16},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["x-request-id"]


def test_an_xlsx_export_survives_control_characters_in_a_memo() -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from kameng_api.core.spreadsheet import xlsx_bytes

    book = load_workbook(BytesIO(xlsx_bytes("t", ["memo"], [["bad\x01memo\x1f"]])))
    assert book.active is not None
    assert book.active["A2"].value == "bad\ufffdmemo\ufffd"


async def test_search_text_is_text_not_a_pattern(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """``%`` and ``_`` in a search box are characters the user typed, not LIKE wildcards: a
    search for ``_`` finds the logins that contain ``_`` and no others (users, wallets)."""
    from decimal import Decimal

    from kameng_api.wallet import service as wallet

    under = await make_user(kind=UserKind.customer, email="under_score@test.kameng.example")
    other = await make_user(kind=UserKind.customer, email="underxscore@test.kameng.example")
    pct = await make_user(kind=UserKind.customer, email="ten%off@test.kameng.example")
    for n, acct in enumerate((under, other, pct)):
        await wallet.recharge(session, acct.user.id, Decimal("1"), payment_id=900_000 + n)
    await session.commit()
    h = await login(client, await make_user(roles=("super_admin",), mfa=True))
    for path in ("/api/v1/users", "/api/v1/wallet/accounts"):
        for text, want in (("r_s", [under.email]), ("n%o", [pct.email]), ("_", [under.email])):
            r = await client.get(path, params={"q": text}, headers=h)
            assert r.status_code == 200, r.text
            found = sorted(i["email"] for i in r.json()["items"] if i["email"].endswith(".example"))
            assert found == want, (path, text, found)
