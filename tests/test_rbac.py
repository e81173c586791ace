"""Roles: custom roles, the grant rule (nobody grants what they do not hold), built-in roles
are read-only, the last super admin stays, and object scoping (404 for other people's rows)."""

from __future__ import annotations

import asyncio

import httpx

from kameng_api.core.actor import UserKind
from tests.support.factories import login, make_user


async def _role_ids(client: httpx.AsyncClient, h: dict[str, str]) -> dict[str, int]:
    r = await client.get("/api/v1/roles", headers=h)
    assert r.status_code == 200
    return {role["key"]: role["id"] for role in r.json()}


async def test_nobody_grants_a_permission_they_do_not_hold(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    ah = await login(client, admin)
    r = await client.post(
        "/api/v1/roles",
        json={
            "key": "role_manager",
            "name": "角色管理员",
            "permissions": ["roles:read", "roles:write", "roles:assign", "inventory:import"],
        },
        headers=ah,
    )
    assert r.status_code == 201, r.text
    manager_role = r.json()["id"]
    mgr = await make_user(mfa=True)
    r = await client.put(
        f"/api/v1/users/{mgr.user.id}/roles", json={"role_ids": [manager_role]}, headers=ah
    )
    assert r.status_code == 200, r.text
    assert [x["key"] for x in r.json()["roles"]] == ["role_manager"]

    mh = await login(client, mgr)
    ok = await client.post(
        "/api/v1/roles",
        json={"key": "importer", "name": "Importer", "permissions": ["inventory:import"]},
        headers=mh,
    )
    assert ok.status_code == 201, ok.text
    refused = await client.post(
        "/api/v1/roles",
        json={"key": "money", "name": "Money", "permissions": ["wallet:adjust"]},
        headers=mh,
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "cannot_grant_unheld_permission"
    # nor by editing a role, nor by handing out a role that holds more than they do
    widen = await client.put(
        f"/api/v1/roles/{ok.json()['id']}",
        json={"name": "Importer", "permissions": ["inventory:import", "orders:refund"]},
        headers=mh,
    )
    assert widen.json()["code"] == "cannot_grant_unheld_permission"
    ids = await _role_ids(client, mh)
    newcomer = await make_user()  # staff without roles
    escalate = await client.put(
        f"/api/v1/users/{newcomer.user.id}/roles",
        json={"role_ids": [manager_role, ids["super_admin"]]},
        headers=mh,
    )
    assert escalate.status_code == 403
    assert escalate.json()["code"] == "cannot_grant_unheld_permission"
    # and cannot touch an account more powerful than theirs
    demote = await client.put(
        f"/api/v1/users/{admin.user.id}/roles", json={"role_ids": []}, headers=mh
    )
    assert demote.status_code == 403
    assert demote.json()["code"] == "cannot_manage_superior"
    me = await client.get("/api/v1/me", headers=mh)
    assert "wallet:adjust" not in me.json()["permissions"]
    roles = await _role_ids(client, ah)
    assert "money" not in roles


async def test_built_in_roles_are_read_only_and_used_roles_stay(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    ids = await _role_ids(client, h)
    assert set(ids) >= {
        "super_admin",
        "operator",
        "customer_service",
        "finance",
        "marketing",
        "key_uploader",
    }
    r = await client.put(
        f"/api/v1/roles/{ids['customer_service']}",
        json={"name": "客服", "permissions": ["orders:read", "wallet:adjust"]},
        headers=h,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "builtin_role"
    assert (await client.delete(f"/api/v1/roles/{ids['finance']}", headers=h)).json()[
        "code"
    ] == "builtin_role"
    unknown = await client.post(
        "/api/v1/roles",
        json={"key": "odd", "name": "Odd", "permissions": ["orders:teleport"]},
        headers=h,
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_permission"
    custom = await client.post(
        "/api/v1/roles", json={"key": "viewer", "name": "Viewer", "permissions": []}, headers=h
    )
    holder = await make_user()
    await client.put(
        f"/api/v1/users/{holder.user.id}/roles",
        json={"role_ids": [custom.json()["id"]]},
        headers=h,
    )
    r = await client.delete(f"/api/v1/roles/{custom.json()['id']}", headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "role_in_use"


async def test_no_one_changes_their_own_roles_and_a_super_admin_always_remains(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    r = await client.put(f"/api/v1/users/{admin.user.id}/roles", json={"role_ids": []}, headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "cannot_manage_self")
    r = await client.patch(f"/api/v1/users/{admin.user.id}", json={"status": "disabled"}, headers=h)
    assert r.json()["code"] == "cannot_disable_self"

    # two super admins demote each other at the same moment: one of them stays
    second = await make_user(roles=("super_admin",), mfa=True)
    sh = await login(client, second)
    answers = await asyncio.gather(
        client.put(f"/api/v1/users/{admin.user.id}/roles", json={"role_ids": []}, headers=sh),
        client.put(f"/api/v1/users/{second.user.id}/roles", json={"role_ids": []}, headers=h),
    )
    outcomes = sorted((a.status_code, a.json().get("code")) for a in answers)
    assert outcomes[0][0] == 200, outcomes
    assert outcomes[1] in ((409, "last_super_admin"), (403, "permission_denied")), outcomes
    survivor = sh if answers[0].status_code == 200 else h
    staff = (await client.get("/api/v1/users?kind=staff", headers=survivor)).json()
    supers = [u for u in staff["items"] if "super_admin" in [x["key"] for x in u["roles"]]]
    assert len(supers) == 1, supers


async def test_disabling_staff_ends_their_sessions(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    clerk = await make_user(roles=("customer_service",))
    ch = await login(client, clerk)
    assert (await client.get("/api/v1/users", headers=ch)).status_code == 200
    r = await client.patch(f"/api/v1/users/{clerk.user.id}", json={"status": "disabled"}, headers=h)
    assert r.status_code == 200
    assert r.json()["status"] == "disabled"
    assert (await client.get("/api/v1/me", headers=ch)).status_code == 401
    again = await client.post(
        "/api/v1/auth/login", json={"login": clerk.email, "password": clerk.password}
    )
    assert again.status_code == 403
    assert again.json()["code"] == "account_disabled"


async def test_force_logout_ends_every_session(client: httpx.AsyncClient) -> None:
    admin = await make_user(roles=("super_admin",), mfa=True)
    h = await login(client, admin)
    clerk = await make_user(roles=("customer_service",))
    sessions = [await login(client, clerk) for _ in range(2)]
    r = await client.post(f"/api/v1/users/{clerk.user.id}/force-logout", headers=h)
    assert r.status_code == 200
    assert r.json()["sessions_ended"] == 2
    for ch in sessions:
        assert (await client.get("/api/v1/me", headers=ch)).status_code == 401


async def test_customers_only_ever_see_their_own_rows(client: httpx.AsyncClient) -> None:
    alice = await make_user(kind=UserKind.customer)
    bob = await make_user(kind=UserKind.customer)
    await login(client, bob)
    bh = await client.post(
        "/api/v1/auth/login",
        json={"login": bob.email, "password": bob.password},
        headers={"user-agent": "BobsNewPhone/1"},
    )
    bob_h = {"authorization": f"Bearer {bh.json()['access_token']}"}
    bob_notice = (await client.get("/api/v1/me/notices", headers=bob_h)).json()[0]["id"]
    bob_session = (await client.get("/api/v1/me/sessions", headers=bob_h)).json()[0]["id"]
    ah = await login(client, alice)
    r = await client.post(f"/api/v1/me/notices/{bob_notice}/read", headers=ah)
    assert r.status_code == 404
    r = await client.delete(f"/api/v1/me/sessions/{bob_session}", headers=ah)
    assert r.status_code == 404
    assert (await client.get("/api/v1/me", headers=bob_h)).status_code == 200
    # and customers reach no staff list at all
    r = await client.get("/api/v1/users", headers=ah)
    assert r.status_code == 403
    assert (await client.get(f"/api/v1/users/{bob.user.id}", headers=ah)).status_code == 403
