"""HTTP for roles and the permission catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from kameng_api.core.actor import Actor
from kameng_api.core.bounds import Id
from kameng_api.core.errors import error_responses
from kameng_api.rbac import service
from kameng_api.rbac.catalogue import MODULES, load_catalogue
from kameng_api.rbac.deps import DbSession, require
from kameng_api.rbac.permissions import RolesPerm
from kameng_api.rbac.schemas import (
    PermissionModuleOut,
    PermissionOut,
    RoleIn,
    RoleOut,
    RoleUpdateIn,
)

router = APIRouter(tags=["roles"])


@router.get(
    "/permissions",
    operation_id="roles:permission_catalogue",
    response_model=list[PermissionModuleOut],
    responses=error_responses(401, 403),
)
async def permission_catalogue(
    actor: Annotated[Actor, require(RolesPerm.read)],
) -> list[PermissionModuleOut]:
    """Every permission, grouped by module, with labels and the sensitive flag."""
    load_catalogue()
    return [
        PermissionModuleOut(
            key=m.key,
            label_zh=m.label_zh,
            label_en=m.label_en,
            permissions=[
                PermissionOut(
                    code=p.code, label_zh=p.label_zh, label_en=p.label_en, sensitive=p.sensitive
                )
                for p in m.permissions
            ],
        )
        for m in MODULES.values()
    ]


async def _role_out(session: DbSession, role_id: Id) -> RoleOut:
    for role, perms, count in await service.list_roles(session):
        if role.id == role_id:
            return RoleOut(
                id=role.id,
                key=role.key,
                name=role.name,
                description=role.description,
                builtin=role.builtin,
                permissions=sorted(perms),
                user_count=count,
            )
    raise AssertionError("role vanished")


@router.get(
    "/roles",
    operation_id="roles:list",
    response_model=list[RoleOut],
    responses=error_responses(401, 403),
)
async def list_roles(
    session: DbSession, actor: Annotated[Actor, require(RolesPerm.read)]
) -> list[RoleOut]:
    return [
        RoleOut(
            id=r.id,
            key=r.key,
            name=r.name,
            description=r.description,
            builtin=r.builtin,
            permissions=sorted(p),
            user_count=n,
        )
        for r, p, n in await service.list_roles(session)
    ]


@router.post(
    "/roles",
    operation_id="roles:create",
    status_code=201,
    response_model=RoleOut,
    responses=error_responses(401, 403, 409, 422),
)
async def create_role(
    body: RoleIn, session: DbSession, actor: Annotated[Actor, require(RolesPerm.write)]
) -> RoleOut:
    """Create a custom role. You can only include permissions you hold yourself."""
    role = await service.create_role(
        session,
        actor,
        key=body.key,
        name=body.name,
        description=body.description,
        perms=set(body.permissions),
    )
    return await _role_out(session, role.id)


@router.get(
    "/roles/{role_id}",
    operation_id="roles:get",
    response_model=RoleOut,
    responses=error_responses(401, 403, 404),
)
async def get_role(
    role_id: Id, session: DbSession, actor: Annotated[Actor, require(RolesPerm.read)]
) -> RoleOut:
    await service.get_role(session, role_id)
    return await _role_out(session, role_id)


@router.put(
    "/roles/{role_id}",
    operation_id="roles:update",
    response_model=RoleOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_role(
    role_id: Id,
    body: RoleUpdateIn,
    session: DbSession,
    actor: Annotated[Actor, require(RolesPerm.write)],
) -> RoleOut:
    await service.update_role(
        session,
        actor,
        role_id,
        name=body.name,
        description=body.description,
        perms=set(body.permissions),
    )
    return await _role_out(session, role_id)


@router.delete(
    "/roles/{role_id}",
    operation_id="roles:delete",
    status_code=204,
    responses=error_responses(401, 403, 404, 409),
)
async def delete_role(
    role_id: Id, session: DbSession, actor: Annotated[Actor, require(RolesPerm.write)]
) -> None:
    await service.delete_role(session, actor, role_id)
