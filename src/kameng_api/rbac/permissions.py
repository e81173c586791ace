from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class RolesPerm(StrEnum):
    read = "roles:read"
    write = "roles:write"
    assign = "roles:assign"


register_module(
    "roles",
    "角色权限",
    "Roles",
    RolesPerm,
    {
        RolesPerm.read: ("查看角色", "View roles", False),
        RolesPerm.write: ("编辑角色", "Edit roles", True),
        RolesPerm.assign: ("分配角色", "Assign roles", True),
    },
)
