"""Roles, their permissions, and who holds them. Rules:

- nobody grants a permission they do not hold (creating/editing roles, assigning roles);
- built-in roles are defined in code and kept in sync after each migration (``bootstrap.py``);
  they cannot be edited;
- the last active super admin cannot lose the role or be disabled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.errors import AppError, Conflict, Forbidden, NotFound
from kameng_api.rbac.catalogue import PERMISSIONS, load_catalogue
from kameng_api.rbac.models import Role, RolePermission, UserRole

SUPER_ADMIN = "super_admin"


@dataclass(frozen=True)
class BuiltinRole:
    key: str
    name: str
    description: str
    permissions: frozenset[str] | None  # None = every permission


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole(SUPER_ADMIN, "超级管理员", "Everything, including roles and settings", None),
    BuiltinRole(
        "operator",
        "运营",
        "Catalog, stock, orders follow-up, suppliers overview",
        frozenset(
            {
                "orders:read",
                "orders:redeliver",
                "orders:resend",
                "orders:deliver",
                "catalog:read",
                "catalog:write",
                "catalog:pricing",
                "inventory:read",
                "inventory:import",
                "inventory:void",
                "suppliers:read",
                "resellers:callbacks",
                "resellers:callbacks_resend",
                "reports:read",
                "users:read",
            }
        ),
    ),
    BuiltinRole(
        "customer_service",
        "客服",
        "Orders and customers; no finance",
        frozenset(
            {
                "orders:read",
                "orders:redeliver",
                "orders:resend",
                "orders:deliver",
                "catalog:read",
                "inventory:read",
                "resellers:callbacks",
                "resellers:callbacks_resend",
                "users:read",
            }
        ),
    ),
    BuiltinRole(
        "finance",
        "财务",
        "Refunds, balances, reconciliation, exports",
        frozenset(
            {
                "orders:read",
                "orders:export",
                "orders:refund",
                "orders:confirm_paid",
                "wallet:read",
                "wallet:adjust",
                "wallet:export",
                "wallet:reconcile",
                "reports:read",
                "reports:export",
                "audit:read",
            }
        ),
    ),
    BuiltinRole(
        "marketing",
        "营销",
        "Products, prices and reports",
        frozenset({"catalog:read", "catalog:write", "catalog:pricing", "reports:read"}),
    ),
    BuiltinRole(
        "key_uploader",
        "卡密上传员",
        "Only imports card keys",
        frozenset({"inventory:import"}),
    ),
)


class UnknownPermission(AppError):
    status = 422
    code = "unknown_permission"
    title = "Unknown permission"


def _builtin_perms(b: BuiltinRole) -> frozenset[str]:
    return frozenset(PERMISSIONS) if b.permissions is None else b.permissions


async def sync_builtin_roles(session: AsyncSession) -> None:
    """Create missing built-in roles and set their permissions to the code's definition."""
    load_catalogue()
    for b in BUILTIN_ROLES:
        perms = _builtin_perms(b)
        unknown = perms - set(PERMISSIONS)
        if unknown:
            raise RuntimeError(f"built-in role {b.key} names unknown permissions {unknown}")
        role = (await session.execute(select(Role).where(Role.key == b.key))).scalar_one_or_none()
        if role is None:
            role = Role(key=b.key, name=b.name, description=b.description, builtin=True)
            session.add(role)
            await session.flush()
        role.builtin = True
        await session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
        if perms:
            await session.execute(
                insert(RolePermission), [{"role_id": role.id, "permission": p} for p in perms]
            )


async def permissions_for_user(session: AsyncSession, user_id: int) -> frozenset[str]:
    q = (
        select(RolePermission.permission)
        .join(UserRole, UserRole.role_id == RolePermission.role_id)
        .where(UserRole.user_id == user_id)
    )
    return frozenset((await session.execute(q)).scalars())


async def roles_of_user(session: AsyncSession, user_id: int) -> Sequence[Role]:
    q = select(Role).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
    return (await session.execute(q.order_by(Role.id))).scalars().all()


async def role_permissions(session: AsyncSession, role_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = list(role_ids)
    out: dict[int, set[str]] = {i: set() for i in ids}
    if not ids:
        return out
    rows = await session.execute(
        select(RolePermission.role_id, RolePermission.permission).where(
            RolePermission.role_id.in_(ids)
        )
    )
    for rid, perm in rows:
        out[rid].add(perm)
    return out


async def list_roles(session: AsyncSession) -> list[tuple[Role, set[str], int]]:
    roles = (await session.execute(select(Role).order_by(Role.builtin.desc(), Role.id))).scalars()
    roles_l = list(roles)
    perms = await role_permissions(session, [r.id for r in roles_l])
    counts = dict(
        (
            await session.execute(select(UserRole.role_id, func.count()).group_by(UserRole.role_id))
        ).all()
    )
    return [(r, perms[r.id], int(counts.get(r.id, 0))) for r in roles_l]


async def get_role(session: AsyncSession, role_id: int) -> Role:
    role = await session.get(Role, role_id)
    if role is None:
        raise NotFound("No such role.")
    return role


def _check_known(perms: set[str]) -> None:
    load_catalogue()
    unknown = sorted(perms - set(PERMISSIONS))
    if unknown:
        raise UnknownPermission(f"Unknown permissions: {', '.join(unknown)}")


def _check_grantable(actor: Actor, perms: set[str]) -> None:
    missing = sorted(perms - actor.permissions)
    if missing:
        raise Forbidden(
            f"You cannot grant permissions you do not hold: {', '.join(missing)}",
            code="cannot_grant_unheld_permission",
        )


async def create_role(
    session: AsyncSession, actor: Actor, *, key: str, name: str, description: str, perms: set[str]
) -> Role:
    _check_known(perms)
    _check_grantable(actor, perms)
    if (await session.execute(select(Role.id).where(Role.key == key))).first():
        raise Conflict("A role with this key exists.", code="role_key_taken")
    role = Role(key=key, name=name, description=description, builtin=False)
    session.add(role)
    await session.flush()
    if perms:
        await session.execute(
            insert(RolePermission), [{"role_id": role.id, "permission": p} for p in perms]
        )
    await audit.record(
        session,
        "roles.create",
        actor=actor,
        target_type="role",
        target_id=role.id,
        after={"key": key, "name": name, "permissions": sorted(perms)},
        risk="high",
    )
    return role


async def update_role(
    session: AsyncSession,
    actor: Actor,
    role_id: int,
    *,
    name: str,
    description: str,
    perms: set[str],
) -> Role:
    role = await get_role(session, role_id)
    if role.builtin:
        raise Conflict("Built-in roles cannot be changed; copy it instead.", code="builtin_role")
    _check_known(perms)
    old = (await role_permissions(session, [role.id]))[role.id]
    _check_grantable(actor, perms - old)  # may keep what it had, may only add what you hold
    before = {"name": role.name, "description": role.description, "permissions": sorted(old)}
    role.name, role.description = name, description
    await session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
    if perms:
        await session.execute(
            insert(RolePermission), [{"role_id": role.id, "permission": p} for p in perms]
        )
    await audit.record(
        session,
        "roles.update",
        actor=actor,
        target_type="role",
        target_id=role.id,
        before=before,
        after={"name": name, "description": description, "permissions": sorted(perms)},
        risk="high",
    )
    return role


async def delete_role(session: AsyncSession, actor: Actor, role_id: int) -> None:
    role = await get_role(session, role_id)
    if role.builtin:
        raise Conflict("Built-in roles cannot be deleted.", code="builtin_role")
    holders = (
        await session.execute(select(func.count()).where(UserRole.role_id == role.id))
    ).scalar_one()
    if holders:
        raise Conflict(f"{holders} user(s) still hold this role.", code="role_in_use")
    perms = (await role_permissions(session, [role.id]))[role.id]
    await session.delete(role)
    await audit.record(
        session,
        "roles.delete",
        actor=actor,
        target_type="role",
        target_id=role_id,
        before={"key": role.key, "name": role.name, "permissions": sorted(perms)},
        risk="high",
    )


async def super_admin_role_id(session: AsyncSession) -> int:
    return int((await session.execute(select(Role.id).where(Role.key == SUPER_ADMIN))).scalar_one())


async def active_super_admins(session: AsyncSession) -> set[int]:
    from kameng_api.identity.models import User  # local: identity imports rbac

    sa = await super_admin_role_id(session)
    q = (
        select(UserRole.user_id)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role_id == sa, User.status == "active")
        .with_for_update(of=User)
    )
    return set((await session.execute(q)).scalars())


SUPER_ADMINS_LOCK = 0x6B6D_5341  # advisory lock key: "kmSA"


async def ensure_not_last_super_admin(session: AsyncSession, user_id: int) -> None:
    # one change of the super admins at a time, and the count read *after* waiting (a new
    # statement sees what the other committed): two admins demoting each other at the same
    # moment would otherwise both see two and leave none
    await session.execute(select(func.pg_advisory_xact_lock(SUPER_ADMINS_LOCK)))
    admins = await active_super_admins(session)
    if admins == {user_id}:
        raise Conflict("This is the last active super admin.", code="last_super_admin")


async def ensure_can_manage(session: AsyncSession, actor: Actor, user_id: int) -> None:
    """Staff can only act on accounts whose permissions they hold themselves: an operator with
    ``users:write`` cannot disable, sign out or re-role a super admin."""
    missing = await permissions_for_user(session, user_id) - actor.permissions
    if missing:
        raise Forbidden(
            "This account holds permissions you do not; ask someone who holds them.",
            code="cannot_manage_superior",
        )


async def set_user_roles(
    session: AsyncSession, actor: Actor, user_id: int, role_ids: set[int]
) -> list[Role]:
    if user_id == actor.user_id:  # no one widens or locks out their own access
        raise Conflict("You cannot change your own roles.", code="cannot_manage_self")
    await ensure_can_manage(session, actor, user_id)
    current = {r.id for r in await roles_of_user(session, user_id)}
    found = set((await session.execute(select(Role.id).where(Role.id.in_(role_ids)))).scalars())
    if found != role_ids:
        raise NotFound(f"No such role: {sorted(role_ids - found)}")
    added, removed = role_ids - current, current - role_ids
    granted: set[str] = set()
    for perms in (await role_permissions(session, added)).values():
        granted |= perms
    _check_grantable(actor, granted)
    sa = await super_admin_role_id(session)
    if sa in removed:
        await ensure_not_last_super_admin(session, user_id)
    if removed:
        await session.execute(
            delete(UserRole).where(UserRole.user_id == user_id, UserRole.role_id.in_(removed))
        )
    if added:
        await session.execute(insert(UserRole), [{"user_id": user_id, "role_id": r} for r in added])
    await audit.record(
        session,
        "users.set_roles",
        actor=actor,
        target_type="user",
        target_id=user_id,
        before={"role_ids": sorted(current)},
        after={"role_ids": sorted(role_ids)},
        risk="high",
    )
    return list(await roles_of_user(session, user_id))


async def grant_builtin_role(session: AsyncSession, user_id: int, role_key: str) -> None:
    """Give a built-in role without an acting user (bootstrap: CLI, demo seed)."""
    role_id = (await session.execute(select(Role.id).where(Role.key == role_key))).scalar_one()
    exists_ = (
        await session.execute(
            select(UserRole).where(UserRole.user_id == user_id, UserRole.role_id == role_id)
        )
    ).first()
    if not exists_:
        session.add(UserRole(user_id=user_id, role_id=role_id))
        await session.flush()
