from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class InventoryPerm(StrEnum):
    read = "inventory:read"
    import_keys = "inventory:import"
    void = "inventory:void"
    reveal = "inventory:reveal"
    export = "inventory:export"


register_module(
    "inventory",
    "库存",
    "Inventory",
    InventoryPerm,
    {
        InventoryPerm.read: ("查看库存", "View stock", False),
        InventoryPerm.import_keys: ("导入卡密", "Import card keys", False),
        InventoryPerm.void: ("作废卡密", "Void card keys", False),
        InventoryPerm.reveal: ("查看卡密明文", "Reveal card secrets", True),
        InventoryPerm.export: ("导出卡密", "Export card keys", True),
    },
)
