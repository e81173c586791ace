from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class UsersPerm(StrEnum):
    read = "users:read"
    write = "users:write"
    disable = "users:disable"
    force_logout = "users:force_logout"
    login_log = "users:login_log"


register_module(
    "users",
    "用户",
    "Users",
    UsersPerm,
    {
        UsersPerm.read: ("查看用户", "View users", False),
        UsersPerm.write: ("创建与编辑员工", "Create and edit staff", False),
        UsersPerm.disable: ("禁用用户", "Disable users", True),
        UsersPerm.force_logout: ("强制下线", "Force logout", False),
        UsersPerm.login_log: ("查看登录日志", "View login log", False),
    },
)
