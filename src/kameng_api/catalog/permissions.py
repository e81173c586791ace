from enum import StrEnum

from kameng_api.rbac.catalogue import register_module


class CatalogPerm(StrEnum):
    read = "catalog:read"
    write = "catalog:write"
    pricing = "catalog:pricing"


register_module(
    "catalog",
    "商品",
    "Catalog",
    CatalogPerm,
    {
        CatalogPerm.read: ("查看商品", "View products", False),
        CatalogPerm.write: ("编辑商品与分类", "Edit products and categories", False),
        CatalogPerm.pricing: ("修改价格", "Change prices", False),
    },
)
