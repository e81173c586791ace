"""The permission catalogue: every capability's permissions in one place, with labels and the
``sensitive`` flag (sensitive permissions need a fresh 2FA — step-up — at use)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class PermissionInfo:
    code: str
    module: str
    label_zh: str
    label_en: str
    sensitive: bool


@dataclass(frozen=True)
class ModuleInfo:
    key: str
    label_zh: str
    label_en: str
    permissions: tuple[PermissionInfo, ...]


MODULES: dict[str, ModuleInfo] = {}
PERMISSIONS: dict[str, PermissionInfo] = {}


def register_module(
    key: str,
    label_zh: str,
    label_en: str,
    enum: type[StrEnum],
    labels: dict[StrEnum, tuple[str, str, bool]],
) -> ModuleInfo:
    """Register one capability's permission enum. Every member needs a label."""
    missing = [m for m in enum if m not in labels]
    if missing:
        raise ValueError(f"{key}: permissions without labels: {missing}")
    perms = []
    for member in enum:
        zh, en, sensitive = labels[member]
        if not member.value.startswith(key + ":"):
            raise ValueError(f"{member.value} must start with {key}:")
        info = PermissionInfo(member.value, key, zh, en, sensitive)
        PERMISSIONS[member.value] = info
        perms.append(info)
    mod = ModuleInfo(key, label_zh, label_en, tuple(perms))
    MODULES[key] = mod
    return mod


def load_catalogue() -> dict[str, PermissionInfo]:
    """Import every capability's permissions module (idempotent)."""
    import importlib

    for name in (
        "orders",
        "resellers",
        "catalog",
        "inventory",
        "wallet",
        "suppliers",
        "resellers",
        "reports",
        "identity",
        "rbac",
        "audit",
        "system",
    ):
        importlib.import_module(f"kameng_api.{name}.permissions")
    return PERMISSIONS


def is_sensitive(code: str) -> bool:
    return PERMISSIONS[code].sensitive
