"""Per-request context variables (request id) shared by logging and error rendering."""

from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Per-request notes of the operation log: a mutable dict set by the request middleware, so what
# a handler notes survives context copies (e.g. ``{"attempt_logged": True}``).
audit_trail_var: ContextVar[dict[str, Any] | None] = ContextVar("audit_trail", default=None)
