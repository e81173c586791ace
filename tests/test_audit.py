"""The operation log (操作日志): every write through the API leaves an entry, refused ones
included; the database refuses to change or delete entries; filters and the CSV export work."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from kameng_api.audit.models import AuditLog
from kameng_api.core import db
from kameng_api.core.actor import UserKind
from tests.support.factories import Account, login, make_user
from tests.support.procs import settings_env

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# POST only because the question does not fit a URL; they change nothing
READ_ONLY_POSTS = {"catalog:price_check"}


def _write_operations() -> dict[str, tuple[str, str]]:
    spec = json.loads((Path(__file__).resolve().parents[1] / "openapi/openapi.json").read_text())
    return {
        op["operationId"]: (method.upper(), path)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if method.upper() in WRITE_METHODS
    }


async def _entries(request_id: str) -> list[AuditLog]:
    async with db.sessionmaker()() as s:
        q = select(AuditLog).where(AuditLog.request_id == request_id)
        return list((await s.execute(q)).scalars())


class Caller:
    """Calls the API with a fresh request id per call and remembers which operation it was."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.calls: dict[str, list[tuple[str, int]]] = {}

    async def __call__(
        self,
        op: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> httpx.Response:
        method, _ = _write_operations()[op]
        rid = uuid.uuid4().hex
        r = await self.client.request(
            method,
            path,
            json=json_body,
            data=data,
            files=files,
            headers={**(headers or {}), "x-request-id": rid},
        )
        if expect is not None:
            assert r.status_code == expect, f"{op}: {r.status_code} {r.text}"
        self.calls.setdefault(op, []).append((rid, r.status_code))
        return r


async def test_every_write_route_records_its_successful_use(client: httpx.AsyncClient) -> None:
    call = Caller(client)
    admin = await make_user(roles=("super_admin",), mfa=True)
    admin_h = await login(client, admin)
    cust = await make_user(kind=UserKind.customer)
    mfa_user = await make_user(kind=UserKind.customer, mfa=True)

    # --- public: registration, codes, sign-in ----------------------------------------------
    new_email = f"new-{uuid.uuid4().hex[:6]}@shop.example.com"
    await call(
        "auth:register",
        "/api/v1/auth/register",
        json_body={"email": new_email, "password": "Quiet-Orchid-Lamp-5"},
        expect=201,
    )
    await call(
        "auth:resend_verification",
        "/api/v1/auth/verify-email/resend",
        # not new_email: its sign-up mail was a moment ago (one code mail a minute)
        json_body={"email": cust.email},
        expect=202,
    )
    await call(
        "auth:request_password_reset",
        "/api/v1/auth/password-reset",
        json_body={"email": new_email},
        expect=202,
    )
    r = await call(
        "auth:login",
        "/api/v1/auth/login",
        json_body={"login": cust.email, "password": cust.password, "refresh_transport": "body"},
        expect=200,
    )
    cust_tokens = r.json()
    cust_h = {"authorization": f"Bearer {cust_tokens['access_token']}"}
    await call(
        "auth:refresh",
        "/api/v1/auth/refresh",
        json_body={"refresh_token": cust_tokens["refresh_token"]},
        expect=200,
    )
    r = await client.post(
        "/api/v1/auth/login", json={"login": mfa_user.email, "password": mfa_user.password}
    )
    assert mfa_user.device is not None
    r = await call(
        "auth:login_2fa",
        "/api/v1/auth/login/2fa",
        json_body={"mfa_token": r.json()["mfa_token"], "code": await mfa_user.device.code()},
        expect=200,
    )
    mfa_h = {"authorization": f"Bearer {r.json()['access_token']}"}

    # --- my account ---------------------------------------------------------------------------
    await call(
        "auth:step_up",
        "/api/v1/auth/step-up",
        json_body={"code": await mfa_user.device.code()},
        headers=mfa_h,
        expect=200,
    )
    await call(
        "me:regenerate_recovery_codes",
        "/api/v1/me/2fa/recovery-codes",
        headers=mfa_h,
        expect=200,
    )
    await call(
        "me:disable_2fa",
        "/api/v1/me/2fa/disable",
        json_body={"code": await mfa_user.device.code()},
        headers=mfa_h,
        expect=204,
    )
    # a second device signs in: a notice, and a session to revoke
    r = await client.post(
        "/api/v1/auth/login",
        json={"login": cust.email, "password": cust.password},
        headers={"user-agent": "OtherPhone/2"},
    )
    assert r.json()["status"] == "ok"
    other = (await client.get("/api/v1/me/sessions", headers=cust_h)).json()
    notices = (await client.get("/api/v1/me/notices", headers=cust_h)).json()
    if notices:
        await call(
            "me:read_notice",
            f"/api/v1/me/notices/{notices[0]['id']}/read",
            headers=cust_h,
            expect=204,
        )
    not_current = [s for s in other if not s["current"]]
    assert not_current, other
    await call(
        "me:revoke_session",
        f"/api/v1/me/sessions/{not_current[0]['id']}",
        headers=cust_h,
        expect=204,
    )
    r = await call("me:start_2fa", "/api/v1/me/2fa/setup", headers=cust_h, expect=200)
    totp = pyotp.TOTP(r.json()["secret"])
    await call(
        "me:enable_2fa",
        "/api/v1/me/2fa/enable",
        json_body={"code": totp.now()},
        headers=cust_h,
        expect=200,
    )
    await call(
        "me:change_password",
        "/api/v1/me/password",
        json_body={"current_password": cust.password, "new_password": "Amber-Fjord-Candle-8"},
        headers=cust_h,
        expect=204,
    )

    # --- staff administration ---------------------------------------------------------------
    r = await call(
        "roles:create",
        "/api/v1/roles",
        json_body={"key": "importer", "name": "Importer", "permissions": ["inventory:import"]},
        headers=admin_h,
        expect=201,
    )
    role_id = r.json()["id"]
    await call(
        "roles:update",
        f"/api/v1/roles/{role_id}",
        json_body={"name": "Importer 2", "permissions": ["inventory:import", "inventory:read"]},
        headers=admin_h,
        expect=200,
    )
    r = await call(
        "users:create_staff",
        "/api/v1/users",
        json_body={"email": f"staff-{uuid.uuid4().hex[:6]}@shop.example.com"},
        headers=admin_h,
        expect=201,
    )
    staff_id = r.json()["user"]["id"]
    await call(
        "users:set_roles",
        f"/api/v1/users/{staff_id}/roles",
        json_body={"role_ids": [role_id]},
        headers=admin_h,
        expect=200,
    )
    await call(
        "users:update",
        f"/api/v1/users/{staff_id}",
        json_body={"display_name": "Key Importer"},
        headers=admin_h,
        expect=200,
    )
    await call(
        "users:force_logout", f"/api/v1/users/{staff_id}/force-logout", headers=admin_h, expect=200
    )
    await call(
        "users:set_roles",
        f"/api/v1/users/{staff_id}/roles",
        json_body={"role_ids": []},
        headers=admin_h,
        expect=200,
    )
    await call("roles:delete", f"/api/v1/roles/{role_id}", headers=admin_h, expect=204)
    # --- catalog ------------------------------------------------------------------------------
    r = await call(
        "catalog:create_category",
        "/api/v1/catalog/categories",
        json_body={"name": "点卡"},
        headers=admin_h,
        expect=201,
    )
    cat_id = r.json()["id"]
    await call(
        "catalog:update_category",
        f"/api/v1/catalog/categories/{cat_id}",
        json_body={"sort": 5},
        headers=admin_h,
        expect=200,
    )
    product = {
        "category_id": cat_id,
        "name": "月卡",
        "delivery_type": "card_key",
        "skus": [{"name": "30天", "base_price": "30.00", "cost_price": "20.00"}],
    }
    r = await call(
        "catalog:create_product",
        "/api/v1/catalog/products",
        json_body=product,
        headers=admin_h,
        expect=201,
    )
    product_id = r.json()["product"]["id"]
    await call(
        "catalog:update_product",
        f"/api/v1/catalog/products/{product_id}",
        json_body={**product, "name": "月卡 30 天"},
        headers=admin_h,
        expect=200,
    )
    await call(
        "catalog:bulk_status",
        "/api/v1/catalog/products/bulk-status",
        json_body={"product_ids": [product_id], "status": "listed"},
        headers=admin_h,
        expect=200,
    )
    empty = await client.post("/api/v1/catalog/categories", json={"name": "空"}, headers=admin_h)
    await call(
        "catalog:delete_category",
        f"/api/v1/catalog/categories/{empty.json()['id']}",
        headers=admin_h,
        expect=204,
    )
    # --- inventory ----------------------------------------------------------------------------
    got = await client.get(f"/api/v1/catalog/products/{product_id}", headers=admin_h)
    sku_id = got.json()["skus"][0]["id"]
    inv = "/api/v1/inventory"
    r = await call(
        "inventory:stage_import",
        f"{inv}/imports",
        data={"sku_id": str(sku_id)},
        files={"file": ("keys.csv", b"CN1,AUDIT-KEY-0001\nCN2,AUDIT-KEY-0002\n")},
        headers=admin_h,
        expect=201,
    )
    batch_id = r.json()["id"]
    await call(
        "inventory:confirm_import", f"{inv}/imports/{batch_id}/confirm", headers=admin_h, expect=200
    )
    r = await client.post(
        f"{inv}/imports",
        data={"sku_id": str(sku_id), "text": "AUDIT-KEY-0003", "format": "secret"},
        headers=admin_h,
    )
    draft_id = r.json()["id"]
    await call(
        "inventory:revalidate_import",
        f"{inv}/imports/{draft_id}/revalidate",
        headers=admin_h,
        expect=200,
    )
    await call(
        "inventory:discard_import", f"{inv}/imports/{draft_id}/discard", headers=admin_h, expect=200
    )
    keys = await client.get(f"{inv}/keys", params={"sku_id": sku_id}, headers=admin_h)
    key_ids = [k["id"] for k in keys.json()["items"]]
    await call(
        "inventory:reveal_key",
        f"{inv}/keys/{key_ids[0]}/reveal",
        json_body={},
        headers=admin_h,
        expect=200,
    )
    await call(
        "inventory:export_keys",
        f"{inv}/keys/export",
        json_body={"sku_id": sku_id},
        headers=admin_h,
        expect=200,
    )
    await call(
        "inventory:void_keys",
        f"{inv}/keys/void",
        json_body={"key_ids": key_ids[:1]},
        headers=admin_h,
        expect=200,
    )
    await call(
        "inventory:void_import",
        f"{inv}/imports/{batch_id}/void",
        json_body={"reason": "test"},
        headers=admin_h,
        expect=200,
    )
    # --- wallet -------------------------------------------------------------------------------
    await call(
        "wallet:adjust",
        "/api/v1/wallet/adjustments",
        json_body={"user_id": cust.user.id, "amount": "50", "reason": "审计测试"},
        headers=admin_h,
        expect=201,
    )
    # --- orders -------------------------------------------------------------------------------
    r = await client.post(
        f"{inv}/imports",
        data={"sku_id": str(sku_id), "text": "AUDIT-KEY-0009", "format": "secret"},
        headers=admin_h,
    )
    await client.post(f"{inv}/imports/{r.json()['id']}/confirm", headers=admin_h)
    r = await call(
        "orders:create",
        "/api/v1/orders",
        json_body={"sku_id": sku_id},
        headers={**cust_h, "idempotency-key": "audit-order-0001"},
        expect=201,
    )
    await client.post(
        f"{inv}/imports",
        data={"sku_id": str(sku_id), "text": "AUDIT-KEY-0010", "format": "secret"},
        headers=admin_h,
    )
    drafts = (await client.get(f"{inv}/imports", headers=admin_h)).json()["items"]
    await client.post(f"{inv}/imports/{drafts[0]['id']}/confirm", headers=admin_h)
    await call(
        "orders:redeliver",
        f"/api/v1/admin/orders/{r.json()['order_no']}/redeliver",
        json_body={"reason": "审计测试"},
        headers=admin_h,
        expect=200,
    )
    await call(
        "orders:resend",
        f"/api/v1/admin/orders/{r.json()['order_no']}/resend",
        headers=admin_h,
        expect=200,
    )
    await call(
        "orders:refund",
        f"/api/v1/admin/orders/{r.json()['order_no']}/refund",
        json_body={"reason": "审计测试"},
        headers=admin_h,
        expect=200,
    )
    # --- docking: a reseller's keys and callback settings, staff's suppliers and mappings ----
    res = await make_user(kind=UserKind.reseller)
    res_h = await login(client, res)
    keys = "/api/v1/account/reseller/keys"
    key = (
        await call("resellers:create_key", keys, json_body={"name": "a"}, headers=res_h, expect=201)
    ).json()
    kid = key["id"]
    await call(
        "resellers:update_key", f"{keys}/{kid}", json_body={"name": "b"}, headers=res_h, expect=200
    )
    new = (
        await call("resellers:rotate_key", f"{keys}/{kid}/rotate", headers=res_h, expect=201)
    ).json()
    await call("resellers:revoke_key", f"{keys}/{kid}/revoke", headers=res_h, expect=200)
    await call(
        "resellers:admin_revoke_key",
        f"/api/v1/admin/reseller-keys/{new['id']}/revoke",
        headers=admin_h,
        expect=200,
    )
    await call(
        "resellers:set_callback",
        "/api/v1/account/reseller/callback",
        json_body={"callback_url": None},
        headers=res_h,
        expect=200,
    )
    await call(
        "resellers:rotate_webhook_secret",
        "/api/v1/account/reseller/callback/rotate-secret",
        headers=res_h,
        expect=200,
    )
    with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true"):
        sup = (
            await call(
                "suppliers:create",
                "/api/v1/suppliers",
                json_body={
                    "name": "审计上游",
                    "protocol": "http_json",
                    "base_url": "http://127.0.0.1:9",
                    "credentials": {"secret": "s"},
                    "timeout_s": 1,
                },
                headers=admin_h,
                expect=201,
            )
        ).json()["id"]
        sups = f"/api/v1/suppliers/{sup}"
        await call(
            "suppliers:update", sups, json_body={"name": "审计上游2"}, headers=admin_h, expect=200
        )
        await call("suppliers:test", f"{sups}/test", headers=admin_h, expect=200)
        await call("suppliers:reset_circuit", f"{sups}/circuit/reset", headers=admin_h, expect=200)
        maps = f"/api/v1/skus/{sku_id}/supplier-mappings"
        mid = (
            await call(
                "suppliers:create_mapping",
                maps,
                json_body={"supplier_id": sup, "supplier_product_id": "P1"},
                headers=admin_h,
                expect=201,
            )
        ).json()["id"]
        await call(
            "suppliers:update_mapping",
            f"{maps}/{mid}",
            json_body={"priority": 5},
            headers=admin_h,
            expect=200,
        )
        await call("suppliers:delete_mapping", f"{maps}/{mid}", headers=admin_h, expect=204)
        await call("suppliers:start_sync", f"{sups}/catalogue-syncs", headers=admin_h, expect=202)
        await call(
            "suppliers:start_recon",
            f"{sups}/reconciliations",
            json_body={"since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z"},
            headers=admin_h,
            expect=202,
        )
    await call("auth:logout", "/api/v1/auth/logout", headers=admin_h, expect=204)

    # verify_email and reset_password need the mailed code: tests/test_accounts_mail.py
    untested = (
        set(_write_operations())
        - set(call.calls)
        - {
            "auth:verify_email",
            "auth:reset_password",
            # need the EPay gateway: tests/test_payments.py checks their log entries
            "wallet:recharge",
            "payments:epay_notify",
            "orders:confirm_paid",  # an EPay order: tests/test_orders_after_sale.py
            "orders:deliver",  # a manual product: tests/test_fulfilment.py
            # signed with a reseller's key, not a token: tests/test_reseller_open_api.py and
            # tests/test_reseller_open_lane.py check their log entries
            "open:create_order",
            "open:cancel_order",
            # a supplier's signed notice: tests/test_suppliers.py checks its log entries
            "suppliers:callback",
            # need a callback row and a receiver: tests/test_reseller_callbacks.py
            "resellers:callbacks_ping",
            "resellers:callbacks_resend",
            "resellers:callbacks_resend_mine",
            *READ_ONLY_POSTS,
        }
    )
    assert untested == set() or untested == {"me:read_notice"}, untested
    missing = []
    for op, done in call.calls.items():
        for rid, status in done:
            entries = await _entries(rid)
            if not any(e.result == "ok" for e in entries):
                missing.append(f"{op} ({status}): {[(e.action, e.result) for e in entries]}")
    assert missing == []


PUBLIC_WRITES = {
    "auth:register",
    "auth:verify_email",
    "auth:resend_verification",
    "auth:request_password_reset",
    "auth:reset_password",
    "auth:login",
    "auth:login_2fa",
    "auth:refresh",
}


async def test_refused_writes_are_recorded_and_change_nothing(client: httpx.AsyncClient) -> None:
    """Every write route, refused (signed out; and as an admin with a far too long field):
    a problem+json answer and a 'rejected'/'denied' entry naming the operation and who."""
    spec = json.loads((Path(__file__).resolve().parents[1] / "openapi/openapi.json").read_text())
    admin = await make_user(roles=("super_admin",), mfa=True)
    headers = await login(client, admin)
    junk = {"email": "x" * 5000, "login": "x" * 5000, "key": "x" * 5000, "role_ids": "x"}
    call = Caller(client)
    as_admin: set[str] = set()
    for op, (method, path) in _write_operations().items():
        url = path.replace("{role_id}", "999999").replace("{user_id}", "999999")
        url = url.replace("{notice_id}", "999999").replace("{session_id}", "no-such-session")
        url = url.replace("{category_id}", "999999").replace("{product_id}", "999999")
        url = url.replace("{import_id}", "999999").replace("{key_id}", "999999")
        url = url.replace("{order_no}", "999999")
        await call(op, url, json_body=junk)
        if "requestBody" in spec["paths"][path][method.lower()] and op not in PUBLIC_WRITES:
            as_admin.add(op)
            await call(op, url, json_body=junk, headers=headers)
    async with db.sessionmaker()() as s:
        before = (await s.execute(text("select count(*) from users"))).scalar_one()
    problems = []
    for op, done in call.calls.items():
        for i, (rid, status) in enumerate(done):
            entries = await _entries(rid)
            if status < 400 or status >= 500:
                problems.append(f"{op}: answered {status}")
            elif not entries or entries[0].result not in {"rejected", "denied"}:
                problems.append(f"{op} ({status}): {[(e.action, e.result) for e in entries]}")
            elif i == 1 and entries[0].actor_id != admin.user.id and not op.startswith("open:"):
                # (the open API's callers are keys, not tokens: the admin's token is no one there)
                problems.append(f"{op}: entry without the actor")
    assert problems == []
    assert len(as_admin) >= 9
    async with db.sessionmaker()() as s:
        assert (await s.execute(text("select count(*) from users"))).scalar_one() == before


async def test_operation_log_is_append_only_in_the_database(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    await login(client, admin)
    async with db.sessionmaker()() as s:
        n = (await s.execute(text("select count(*) from audit_log"))).scalar_one()
        assert n > 0
    for sql in (
        "update audit_log set action = 'nothing.happened'",
        "delete from audit_log",
        "truncate audit_log",
    ):
        async with db.sessionmaker()() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(sql))
    async with db.sessionmaker()() as s:
        assert (await s.execute(text("select count(*) from audit_log"))).scalar_one() == n


async def _staff_with_history(client: httpx.AsyncClient) -> tuple[Account, dict[str, str]]:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    for i in range(3):
        r = await client.post(
            "/api/v1/roles",
            json={"key": f"r{i}", "name": f'=HYPERLINK("x",{i})', "permissions": []},
            headers=h,
        )
        assert r.status_code == 201
    return admin, h


async def test_filter_and_page_the_operation_log(client: httpx.AsyncClient) -> None:
    admin, h = await _staff_with_history(client)
    r = await client.get("/api/v1/audit-log", params={"action": "roles.create"}, headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [e["action"] for e in items] == ["roles.create"] * 3
    assert items[0]["actor_id"] == admin.user.id
    assert items[0]["actor_name"] == admin.email
    assert items[0]["after"]["key"] == "r2"  # newest first
    page = await client.get(
        "/api/v1/audit-log", params={"action": "roles.create", "limit": 2}, headers=h
    )
    body = page.json()
    assert len(body["items"]) == 2
    rest = await client.get(
        "/api/v1/audit-log",
        params={"action": "roles.create", "limit": 2, "before_id": body["next_before_id"]},
        headers=h,
    )
    assert [e["after"]["key"] for e in rest.json()["items"]] == ["r0"]
    mine = await client.get("/api/v1/audit-log", params={"actor_id": 999999}, headers=h)
    assert mine.json()["items"] == []


async def test_csv_export_neutralises_formulas(client: httpx.AsyncClient) -> None:
    _admin, h = await _staff_with_history(client)
    r = await client.get("/api/v1/audit-log/export", params={"action": "roles.create"}, headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 3
    cells = " ".join(v for row in rows for v in row.values())
    assert "=HYPERLINK" in cells
    assert all(not v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())


async def test_secrets_never_reach_the_log(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    r = await client.post(
        "/api/v1/users",
        json={"email": f"s-{uuid.uuid4().hex[:6]}@shop.example.com", "password": "Wild-Ember-7x"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    async with db.sessionmaker()() as s:
        dump = (await s.execute(text("select string_agg(t::text, ' ') from audit_log t"))).scalar()
    assert dump is not None
    assert "Wild-Ember-7x" not in dump
