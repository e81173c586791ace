"""Deny by default, proven two ways:

1. every route declares exactly one access rule (Public / Authenticated / require(perm));
2. every route is called as every built-in role, plus anonymous, a customer and a reseller, and
   the outcome (let through, or refused with 401/403) is compared with the matrix below.

A new route without an entry in ``EXPECTED`` fails the test: decide who may call it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _iter_routes_with_context

from kameng_api.core.actor import UserKind
from kameng_api.main import create_app
from kameng_api.rbac.deps import ACCESS_MARKER
from tests.support.factories import Account, login, make_user

STAFF_ROLES = (
    "super_admin",
    "operator",
    "customer_service",
    "finance",
    "marketing",
    "key_uploader",
)
PRINCIPALS = ("anonymous", "customer", "reseller", *STAFF_ROLES)

ANYONE = frozenset(PRINCIPALS)
SIGNED_IN = ANYONE - {"anonymous"}
RESELLER = frozenset({"reseller"})
SIGNED_BY_KEY: frozenset[str] = frozenset()  # no principal of the walk: a key's signature


def staff(*roles: str) -> frozenset[str]:
    return frozenset({"super_admin", *roles})


# operation id → who gets through. Everyone else must be refused (401 when anonymous, else 403).
EXPECTED: dict[str, frozenset[str]] = {
    "system:liveness": ANYONE,
    "system:readiness": ANYONE,
    "system:info": staff(),
    "auth:register": ANYONE,
    "auth:verify_email": ANYONE,
    "auth:resend_verification": ANYONE,
    "auth:request_password_reset": ANYONE,
    "auth:reset_password": ANYONE,
    "auth:login": ANYONE,
    "auth:login_2fa": ANYONE,
    "auth:refresh": ANYONE,
    "auth:logout": SIGNED_IN,
    "auth:step_up": SIGNED_IN,
    "me:get": SIGNED_IN,
    "me:change_password": SIGNED_IN,
    "me:start_2fa": SIGNED_IN,
    "me:enable_2fa": SIGNED_IN,
    "me:disable_2fa": SIGNED_IN,
    "me:regenerate_recovery_codes": SIGNED_IN,
    "me:list_sessions": SIGNED_IN,
    "me:revoke_session": SIGNED_IN,
    "me:list_notices": SIGNED_IN,
    "me:read_notice": SIGNED_IN,
    "me:list_login_events": SIGNED_IN,
    # 客服 and 运营 look customers up; only admins change accounts
    "users:list": staff("operator", "customer_service"),
    "users:get": staff("operator", "customer_service"),
    "users:create_staff": staff(),
    "users:update": staff(),
    "users:set_roles": staff(),
    "users:force_logout": staff(),
    "users:login_events": staff(),
    "roles:permission_catalogue": staff(),
    "roles:list": staff(),
    "roles:get": staff(),
    "roles:create": staff(),
    "roles:update": staff(),
    "roles:delete": staff(),
    # catalog: 运营 and 营销 edit, 客服 looks things up; the shop is public
    "catalog:list_categories": staff("operator", "customer_service", "marketing"),
    "catalog:list_products": staff("operator", "customer_service", "marketing"),
    "catalog:get_product": staff("operator", "customer_service", "marketing"),
    "catalog:price_check": staff("operator", "customer_service", "marketing"),
    "catalog:create_category": staff("operator", "marketing"),
    "catalog:update_category": staff("operator", "marketing"),
    "catalog:delete_category": staff("operator", "marketing"),
    "catalog:create_product": staff("operator", "marketing"),
    "catalog:update_product": staff("operator", "marketing"),
    "catalog:bulk_status": staff("operator", "marketing"),
    "shop:list_categories": ANYONE,
    "shop:list_products": ANYONE,
    "shop:get_product": ANYONE,
    "shop:quote": ANYONE,
    # inventory: 运营 imports and voids, 客服 looks up, the key uploader only imports (and sees
    # only their own imports); reveal and export stay with the admin (sensitive: step-up)
    # suppliers: 运营 sees them; changing them is the super admin's (credentials: step-up);
    # the suppliers' own callbacks are public (signed, bound to the supplier)
    "suppliers:list": staff("operator"),
    "suppliers:create": staff(),
    "suppliers:get": staff("operator"),
    "suppliers:update": staff(),
    "suppliers:test": staff(),
    "suppliers:health": staff("operator"),
    "suppliers:circuit": staff("operator"),
    "suppliers:reset_circuit": staff(),
    "suppliers:catalogue": staff("operator"),
    "suppliers:list_mappings": staff("operator"),
    "suppliers:create_mapping": staff(),
    "suppliers:update_mapping": staff(),
    "suppliers:delete_mapping": staff(),
    "suppliers:order_upstream": staff("operator"),
    "suppliers:callback": ANYONE,
    # catalogue sync and reconciliation: 运营 watches and reads, the super admin starts
    "suppliers:start_sync": staff(),
    "suppliers:list_syncs": staff("operator"),
    "suppliers:get_sync": staff("operator"),
    "suppliers:sync_changes": staff("operator"),
    "suppliers:list_products": staff("operator"),
    "suppliers:start_recon": staff(),
    "suppliers:list_recons": staff("operator"),
    "suppliers:get_recon": staff("operator"),
    "suppliers:recon_mismatches": staff("operator"),
    "suppliers:export_recon": staff("operator"),
    "inventory:import_targets": staff("operator", "customer_service", "key_uploader"),
    "inventory:product_stock": staff("operator", "customer_service"),
    "inventory:stage_import": staff("operator", "key_uploader"),
    "inventory:list_imports": staff("operator", "customer_service", "key_uploader"),
    "inventory:get_import": staff("operator", "customer_service", "key_uploader"),
    "inventory:confirm_import": staff("operator", "key_uploader"),
    "inventory:revalidate_import": staff("operator", "key_uploader"),
    "inventory:discard_import": staff("operator", "key_uploader"),
    "inventory:void_import": staff("operator"),
    "inventory:list_keys": staff("operator", "customer_service"),
    "inventory:void_keys": staff("operator"),
    "inventory:reveal_key": staff(),
    "inventory:export_keys": staff(),
    # wallet: everyone signed in has their own; 财务 sees, adjusts (step-up), exports, reconciles
    "wallet:my_wallet": SIGNED_IN,
    "wallet:my_statement": SIGNED_IN,
    "wallet:export_my_statement": SIGNED_IN,
    "wallet:list_accounts": staff("finance"),
    "wallet:account_statement": staff("finance"),
    "wallet:export_statement": staff("finance"),
    "wallet:adjust": staff("finance"),
    "wallet:ledger": staff("finance"),
    "wallet:trial_balance": staff("finance"),
    "wallet:recharge": SIGNED_IN,
    # the gateway's notices are public: the signature is the authentication
    "payments:epay_notify": ANYONE,
    "payments:epay_notify_get": ANYONE,
    # orders: every signed-in user buys and sees their own; 运营/客服/财务 see all
    "orders:create": SIGNED_IN,
    "orders:list_mine": SIGNED_IN,
    "orders:get_mine": SIGNED_IN,
    "orders:list": staff("operator", "customer_service", "finance"),
    "orders:get": staff("operator", "customer_service", "finance"),
    "orders:refund": staff("finance"),
    "orders:confirm_paid": staff("finance"),
    "orders:redeliver": staff("operator", "customer_service"),
    "orders:deliver": staff("operator", "customer_service"),
    "orders:resend": staff("operator", "customer_service"),
    # reseller callbacks: a reseller sees and resends their own; 运营/客服 follow up on all
    "resellers:callbacks_list_mine": frozenset({"reseller"}),
    "resellers:callbacks_get_mine": frozenset({"reseller"}),
    "resellers:callbacks_resend_mine": frozenset({"reseller"}),
    "resellers:callbacks_ping": frozenset({"reseller"}),
    "resellers:callbacks_list": staff("operator", "customer_service"),
    "resellers:callbacks_get": staff("operator", "customer_service"),
    "resellers:callbacks_resend": staff("operator", "customer_service"),
    # 财务 reads the operation log (reconciliation); export stays with the admin
    "audit:list": staff("finance"),
    "audit:export": staff(),
    # resellers manage their own open-API keys and callback settings; staff with
    # resellers:read / resellers:manage_keys (the admin) see a reseller's keys and revoke them
    "resellers:list_my_keys": RESELLER,
    "resellers:create_key": RESELLER,
    "resellers:update_key": RESELLER,
    "resellers:rotate_key": RESELLER,
    "resellers:revoke_key": RESELLER,
    "resellers:get_callback": RESELLER,
    "resellers:set_callback": RESELLER,
    "resellers:rotate_webhook_secret": RESELLER,
    "resellers:list_keys": staff(),
    "resellers:admin_revoke_key": staff(),
    # the open API: signed with a reseller's key; a token lets nobody in (401
    # signature_missing); tests/test_reseller_open_api.py covers the signed calls
    "open:ping": SIGNED_BY_KEY,
    "open:balance": SIGNED_BY_KEY,
    "open:categories": SIGNED_BY_KEY,
    "open:products": SIGNED_BY_KEY,
    "open:create_order": SIGNED_BY_KEY,
    "open:list_orders": SIGNED_BY_KEY,
    "open:get_order": SIGNED_BY_KEY,
    "open:cancel_order": SIGNED_BY_KEY,
}

# Routes outside the API schema, and why they are open.
UNDOCUMENTED_OPEN = {
    "/metrics": "Prometheus scrape; bind it to an internal network in production (docs/deploy.md)",
    "/{path:path}": "the SPA's index.html for client-side routes",
}

REFUSAL_CODES = {"unauthenticated", "permission_denied"}
# Let through the access rule (whatever the handler then says about the empty request).
NOT_REFUSED_BY_ACCESS = REFUSAL_CODES | {"step_up_required", "mfa_enrollment_required"}


def _rules(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dep in dependant.dependencies:
        rule = getattr(dep.call, ACCESS_MARKER, None)
        if rule:
            found.append(rule)
        found += _rules(dep)
    return found


def test_every_route_declares_exactly_one_access_rule() -> None:
    app = create_app()
    seen = 0
    for route, _ctx in _iter_routes_with_context(app.routes):
        if not isinstance(route, APIRoute):
            continue
        if not route.include_in_schema:
            assert route.path in UNDOCUMENTED_OPEN, f"undocumented route {route.path}"
            continue
        rules = _rules(route.dependant)
        assert len(rules) == 1, f"{route.operation_id}: access rules {rules}"
        seen += 1
    assert seen == len(EXPECTED)


def _operations() -> list[tuple[str, str, str, dict[str, Any]]]:
    spec = json.loads((Path(__file__).resolve().parents[1] / "openapi/openapi.json").read_text())
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops.append((op["operationId"], method.upper(), path, op))
    # signing out ends the token the rest of the walk uses: do it last
    ops.sort(key=lambda o: o[0] == "auth:logout")
    return ops


def test_matrix_names_every_route_and_nothing_else() -> None:
    ids = {o[0] for o in _operations()}
    assert ids - EXPECTED.keys() == set(), "routes without an entry in EXPECTED"
    assert EXPECTED.keys() - ids == set(), "entries for routes that no longer exist"


def _concrete(path: str, op: dict[str, Any]) -> str:
    for p in op.get("parameters", []):
        if p["in"] != "path":
            continue
        schema = p.get("schema", {})
        value = "999999999" if schema.get("type") == "integer" else "no-such-id"
        if schema.get("format") == "uuid":
            value = "00000000-0000-0000-0000-000000000000"
        path = path.replace("{" + p["name"] + "}", value)
    return path


@pytest.mark.slow
async def test_every_route_as_every_role_matches_the_matrix(client: httpx.AsyncClient) -> None:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    accounts: dict[str, Account] = {}
    accounts["customer"] = await make_user(kind=UserKind.customer)
    accounts["reseller"] = await make_user(kind=UserKind.reseller)
    for role in STAFF_ROLES:
        # 2FA on and just verified at sign-in: sensitive permissions are usable (step-up fresh)
        accounts[role] = await make_user(roles=(role,), mfa=True)
    for name, acct in accounts.items():
        headers[name] = await login(client, acct)

    mismatches = []
    for op_id, method, path, op in _operations():
        url = _concrete(path, op)
        for who in PRINCIPALS:
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            r = await client.request(method, url, json=body, headers=headers[who])
            code = (
                r.json().get("code")
                if r.headers.get("content-type", "").endswith("json") and isinstance(r.json(), dict)
                else None
            )
            allowed = who in EXPECTED[op_id]
            if EXPECTED[op_id] is SIGNED_BY_KEY:
                ok = r.status_code == 401 and code == "signature_missing"
            elif allowed:
                ok = code not in NOT_REFUSED_BY_ACCESS and r.status_code < 500
            elif who == "anonymous":
                ok = r.status_code == 401 and code == "unauthenticated"
            else:
                ok = r.status_code == 403 and code == "permission_denied"
            if not ok:
                mismatches.append(f"{op_id} as {who}: {r.status_code} {code}")
    assert mismatches == []
