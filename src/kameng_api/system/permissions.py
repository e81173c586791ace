from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class SettingsPerm(StrEnum):
    read = "settings:read"
    write = "settings:write"


register_module(
    "settings",
    "设置",
    "Settings",
    SettingsPerm,
    {
        SettingsPerm.read: ("查看系统设置", "View settings", False),
        SettingsPerm.write: ("修改系统设置", "Change settings", True),
    },
)
