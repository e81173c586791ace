"""The resellers capability's permissions (代理/对接). Each part of the capability keeps its
enum in its own module; this one registers them as one module of the catalogue."""

from kameng_api.rbac.catalogue import register_module
from kameng_api.resellers.callbacks_permissions import CALLBACKS_LABELS, CallbacksPerm

register_module("resellers", "代理", "Resellers", CallbacksPerm, CALLBACKS_LABELS)
