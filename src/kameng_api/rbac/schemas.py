from __future__ import annotations

from pydantic import BaseModel, Field


class PermissionOut(BaseModel):
    code: str
    label_zh: str
    label_en: str
    sensitive: bool


class PermissionModuleOut(BaseModel):
    key: str
    label_zh: str
    label_en: str
    permissions: list[PermissionOut]


class RoleOut(BaseModel):
    id: int
    key: str
    name: str
    description: str
    builtin: bool
    permissions: list[str]
    user_count: int


class RoleIn(BaseModel):
    key: str = Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=255)
    permissions: list[str] = Field(default_factory=list, max_length=200)


class RoleUpdateIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=255)
    permissions: list[str] = Field(default_factory=list, max_length=200)
